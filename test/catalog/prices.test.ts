import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { pollUntil, startCatalogOnly } from "./support.js";

let env: Awaited<ReturnType<typeof startCatalogOnly>>;
let viewer: string;
beforeAll(async () => {
  env = await startCatalogOnly("catprices");
  viewer = await mintToken({ sub: "viewer-1" });
});
afterAll(async () => {
  await env?.stop();
});

const SCHEDULE = `mutation ($input: ScheduleGiftPriceInput!) {
  scheduleGiftPrice(input: $input) {
    gift { id coinCost }
    scheduledPrice { id coinCost validFrom validUntil reason note changedBy }
    userErrors { code message field }
  }
}`;
const CANCEL = `mutation ($id: ID!) { cancelScheduledGiftPrice(id: $id) { gift { id } userErrors { code field } } }`;
const COST = `query ($id: ID!) { gift(id: $id) { coinCost } }`;
const inMs = (n: number) => new Date(Date.now() + n).toISOString();

describe("scheduleGiftPrice", () => {
  it("takes effect at its time with no further action (no cron): before it the old price, from it the new one", async () => {
    const id = await env.giftId("confetti");
    const effectiveAt = inMs(700);
    const res = await env.gql(SCHEDULE, { input: { giftId: id, coinCost: 120, effectiveAt, note: "new year" } }, env.adminToken);
    expect(res.data.scheduleGiftPrice.userErrors).toEqual([]);
    expect(res.data.scheduleGiftPrice.gift.coinCost).toBe(100);
    expect(res.data.scheduleGiftPrice.scheduledPrice).toMatchObject({ coinCost: 120, validFrom: effectiveAt, validUntil: null, reason: "SCHEDULED", note: "new year", changedBy: "admin-1" });
    expect((await env.gql(COST, { id })).data.gift.coinCost).toBe(100);
    const after = await pollUntil(() => env.gql(COST, { id }), (r) => r.data.gift.coinCost === 120, 700 + 2000);
    expect(after.data.gift.coinCost).toBe(120);
    expect(Date.now()).toBeGreaterThanOrEqual(Date.parse(effectiveAt));
  });

  it("is in force from exactly its instant (inclusive), not 1 ms before", async () => {
    const id = await env.giftId("money-gun");
    const at = new Date("2031-05-01T12:00:00.000Z");
    await env.gql(SCHEDULE, { input: { giftId: id, coinCost: 555, effectiveAt: at.toISOString() } }, env.adminToken);
    const [before] = await env.catalog.services.gifts.byIds([id], new Date(at.getTime() - 1));
    const [exactly] = await env.catalog.services.gifts.byIds([id], at);
    expect(before!.coinCost).toBe(500);
    expect(before!.nextPriceAt).toEqual(at);
    expect(exactly!.coinCost).toBe(555);
  });

  it("treats a retry of the same schedule as a no-op and refuses a different price at the same instant", async () => {
    const id = await env.giftId("hand-hearts");
    const input = { giftId: id, coinCost: 110, effectiveAt: "2032-01-01T00:00:00.000Z" };
    const a = await env.gql(SCHEDULE, { input }, env.adminToken);
    const b = await env.gql(SCHEDULE, { input }, env.adminToken);
    expect(b.data.scheduleGiftPrice.scheduledPrice.id).toBe(a.data.scheduleGiftPrice.scheduledPrice.id);
    const c = await env.gql(SCHEDULE, { input: { ...input, coinCost: 111 } }, env.adminToken);
    expect(c.data.scheduleGiftPrice.userErrors).toEqual([expect.objectContaining({ code: "PRICE_ALREADY_SCHEDULED", field: ["input", "effectiveAt"] })]);
    const n = await env.catalog.dataSource.query(`SELECT count(*)::int AS n FROM catalog.gift_prices WHERE gift_id = $1 AND reason = 'SCHEDULED'`, [id]);
    expect(n[0].n).toBe(1);
  });

  it("lets one of two concurrent different schedules at the same instant win; the other gets PRICE_ALREADY_SCHEDULED", async () => {
    const id = await env.giftId("planet");
    const [a, b] = await Promise.all(
      [15500, 16000].map((coinCost) => env.gql(SCHEDULE, { input: { giftId: id, coinCost, effectiveAt: "2033-01-01T00:00:00.000Z" } }, env.adminToken)),
    );
    const codes = [a, b].map((r) => r.data.scheduleGiftPrice.userErrors.map((e: any) => e.code).join("")).sort();
    expect(codes).toEqual(["", "PRICE_ALREADY_SCHEDULED"]);
  });

  it.each([
    [{ effectiveAt: "2020-01-01T00:00:00.000Z" }, "INVALID_INPUT", ["input", "effectiveAt"]],
    [{ coinCost: 0 }, "INVALID_INPUT", ["input", "coinCost"]],
    [{ coinCost: 1_000_001 }, "INVALID_INPUT", ["input", "coinCost"]],
    [{ giftId: "00000000-0000-4000-8000-000000000000" }, "NOT_FOUND", ["input", "giftId"]],
  ])("refuses %j with %s", async (over, code, field) => {
    const id = await env.giftId("rocket");
    const res = await env.gql(SCHEDULE, { input: { giftId: id, coinCost: 21000, effectiveAt: "2034-01-01T00:00:00.000Z", ...over } }, env.adminToken);
    expect(res.data.scheduleGiftPrice.userErrors).toContainEqual(expect.objectContaining({ code, field }));
    expect(res.data.scheduleGiftPrice.scheduledPrice).toBeNull();
  });

  it("refuses to schedule a price for a retired gift (INVALID_STATE)", async () => {
    const id = await env.giftId("train");
    await env.catalog.services.admin.retireGift(id);
    const res = await env.gql(SCHEDULE, { input: { giftId: id, coinCost: 900, effectiveAt: "2034-01-01T00:00:00.000Z" } }, env.adminToken);
    expect(res.data.scheduleGiftPrice.userErrors[0].code).toBe("INVALID_STATE");
  });

  it("cancels a scheduled change that has not taken effect, and refuses to cancel history", async () => {
    const id = await env.giftId("swan");
    const s = await env.gql(SCHEDULE, { input: { giftId: id, coinCost: 720, effectiveAt: "2035-01-01T00:00:00.000Z" } }, env.adminToken);
    const periodId = s.data.scheduleGiftPrice.scheduledPrice.id;
    expect((await env.gql(CANCEL, { id: periodId }, env.adminToken)).data.cancelScheduledGiftPrice.userErrors).toEqual([]);
    const left = await env.gql(`query ($id: ID!) { gift(id: $id) { scheduledPrices { id } } }`, { id }, env.adminToken);
    expect(left.data.gift.scheduledPrices).toEqual([]);
    const [initial] = await env.catalog.dataSource.query(`SELECT id FROM catalog.gift_prices WHERE gift_id = $1 AND reason = 'INITIAL'`, [id]);
    expect((await env.gql(CANCEL, { id: String(initial.id) }, env.adminToken)).data.cancelScheduledGiftPrice.userErrors[0].code).toBe("INVALID_STATE");
    expect((await env.gql(CANCEL, { id: "999999999" }, env.adminToken)).data.cancelScheduledGiftPrice.userErrors[0].code).toBe("NOT_FOUND");
  });
});

describe("price history: Gift.priceAt and Gift.priceHistory", () => {
  let id: string;
  beforeAll(async () => {
    // A gift with a known past: initial price in 2020, an admin change in mid-2024, a scheduled change that took effect in 2025,
    // and one scheduled for 2040.
    const g = await env.catalog.services.admin.createGift(
      { slug: "history-gift", name: "History", description: "", coinCost: 10, category: "BASIC", imageUrl: "h.png", animationUrl: null, streakable: true, availableFrom: null, availableUntil: null, regions: null, sortOrder: null },
      "admin-1",
    );
    id = g.id;
    await env.catalog.dataSource.query(`UPDATE catalog.gift_prices SET effective_from = '2020-01-01T00:00:00Z' WHERE gift_id = $1`, [id]);
    await env.catalog.dataSource.query(
      `INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason, note, changed_by, created_at) VALUES
         ($1, 12, '2024-06-01T00:00:00Z', 'UPDATE', 'inflation', 'admin-7', '2024-06-01T00:00:00Z'),
         ($1, 15, '2025-01-01T00:00:00Z', 'SCHEDULED', 'new year', 'admin-8', '2024-12-01T09:30:00Z'),
         ($1, 20, '2040-01-01T00:00:00Z', 'SCHEDULED', null, 'admin-9', now())`,
      [id],
    );
  });
  const PRICE_AT = `query ($id: ID!, $at: DateTimeISO!) { gift(id: $id) { priceAt(at: $at) { coinCost validFrom validUntil reason note changedBy recordedAt explanation } } }`;
  const at = async (iso: string, token?: string) => (await env.gql(PRICE_AT, { id, at: iso }, token)).data?.gift.priceAt;

  it("answers null before the gift had any price", async () => {
    expect(await at("2019-12-31T23:59:59.999Z")).toBeNull();
  });

  it("answers the initial price from its first instant until 1 ms before the next change", async () => {
    expect(await at("2020-01-01T00:00:00.000Z")).toMatchObject({ coinCost: 10, reason: "INITIAL", validFrom: "2020-01-01T00:00:00.000Z", validUntil: "2024-06-01T00:00:00.000Z" });
    expect((await at("2024-05-31T23:59:59.999Z")).coinCost).toBe(10);
  });

  it("answers an admin's immediate change and explains it", async () => {
    const p = await at("2024-06-01T00:00:00.000Z");
    expect(p).toMatchObject({ coinCost: 12, reason: "UPDATE", note: "inflation", validUntil: "2025-01-01T00:00:00.000Z" });
    expect(p.explanation).toContain("12 coins");
    expect(p.explanation).toContain("inflation");
  });

  it("explains which scheduled change set a price: when it was recorded and from when it applied", async () => {
    const p = await at("2026-03-01T00:00:00.000Z", env.adminToken);
    expect(p).toMatchObject({ coinCost: 15, reason: "SCHEDULED", changedBy: "admin-8", recordedAt: "2024-12-01T09:30:00.000Z", validFrom: "2025-01-01T00:00:00.000Z", validUntil: "2040-01-01T00:00:00.000Z" });
    expect(p.explanation).toBe(
      "Scheduled price change to 15 coins, recorded by admin-8 at 2024-12-01T09:30:00.000Z, in force from 2025-01-01T00:00:00.000Z until 2040-01-01T00:00:00.000Z (new year).",
    );
  });

  it("hides future schedules from non-admins: the current price has no end yet, no admin ids, and future instants are FORBIDDEN", async () => {
    const p = await at("2026-03-01T00:00:00.000Z", viewer);
    expect(p).toMatchObject({ coinCost: 15, validUntil: null, changedBy: null });
    expect(p.explanation).not.toContain("2040");
    expect(p.explanation).not.toContain("admin-8");
    const future = await env.gql(PRICE_AT, { id, at: "2041-01-01T00:00:00.000Z" }, viewer);
    expect(future.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect((await at("2041-01-01T00:00:00.000Z", env.adminToken)).coinCost).toBe(20);
  });

  it("lists the history oldest first as contiguous intervals, scheduled changes separately (admins only)", async () => {
    const res = await env.gql(`query ($id: ID!) { gift(id: $id) { coinCost priceHistory { coinCost validFrom validUntil reason } } }`, { id });
    const h = res.data.gift.priceHistory;
    expect(res.data.gift.coinCost).toBe(15);
    expect(h.map((p: any) => [p.coinCost, p.reason])).toEqual([[10, "INITIAL"], [12, "UPDATE"], [15, "SCHEDULED"]]);
    for (let i = 0; i + 1 < h.length; i++) expect(h[i].validUntil).toBe(h[i + 1].validFrom);
    const sched = await env.gql(`query ($id: ID!) { gift(id: $id) { scheduledPrices { coinCost validFrom } } }`, { id }, env.adminToken);
    expect(sched.data.gift.scheduledPrices).toEqual([{ coinCost: 20, validFrom: "2040-01-01T00:00:00.000Z" }]);
    const denied = await env.gql(`query ($id: ID!) { gift(id: $id) { scheduledPrices { coinCost } } }`, { id }, viewer);
    expect(denied.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });
});
