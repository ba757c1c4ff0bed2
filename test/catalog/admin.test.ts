import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { startCatalogOnly } from "./support.js";

let env: Awaited<ReturnType<typeof startCatalogOnly>>;
let viewer: string;
beforeAll(async () => {
  env = await startCatalogOnly("catadmin");
  viewer = await mintToken({ sub: "viewer-1", roles: ["viewer", "host"] });
});
afterAll(async () => {
  await env?.stop();
});

const CREATE = `mutation ($input: CreateGiftInput!) {
  createGift(input: $input) {
    gift { id slug name description coinCost category imageUrl animationUrl streakable availableFrom availableUntil regions status sortOrder }
    userErrors { code message field }
  }
}`;
const UPDATE = `mutation ($input: UpdateGiftInput!) {
  updateGift(input: $input) { gift { id slug name coinCost animationUrl availableFrom availableUntil regions streakable } userErrors { code message field } }
}`;
const RETIRE = `mutation ($id: ID!) { retireGift(id: $id) { gift { id status } userErrors { code field } } }`;

const valid = (over: Record<string, unknown> = {}) => ({
  slug: "snow-globe",
  name: "Snow Globe",
  description: "A tiny winter",
  coinCost: 250,
  category: "SPECIAL",
  imageUrl: "snow-globe.png",
  ...over,
});
const giftCount = async () => Number((await env.catalog.dataSource.query(`SELECT count(*)::int AS n FROM catalog.gifts`))[0].n);

describe("admin authorization", () => {
  it("answers UNAUTHENTICATED to anonymous callers for every admin mutation, changing nothing", async () => {
    const before = await giftCount();
    for (const [m, v] of [
      [CREATE, { input: valid({ slug: "anon-gift" }) }],
      [UPDATE, { input: { id: await env.giftId("rose"), coinCost: 2 } }],
      [RETIRE, { id: await env.giftId("rose") }],
    ] as const) {
      const res = await env.gql(m, v);
      expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    }
    expect(await giftCount()).toBe(before);
  });

  it("answers FORBIDDEN to signed-in non-admins for every admin mutation, changing nothing", async () => {
    const rose = await env.giftId("rose");
    const before = await giftCount();
    const calls: [string, Record<string, unknown>][] = [
      [CREATE, { input: valid({ slug: "viewer-gift" }) }],
      [UPDATE, { input: { id: rose, coinCost: 2 } }],
      [RETIRE, { id: rose }],
      [`mutation ($i: ScheduleGiftPriceInput!) { scheduleGiftPrice(input: $i) { userErrors { code } } }`, { i: { giftId: rose, coinCost: 3, effectiveAt: "2031-01-01T00:00:00Z" } }],
      [`mutation { cancelScheduledGiftPrice(id: "1") { userErrors { code } } }`, {}],
    ];
    for (const [m, v] of calls) {
      const res = await env.gql(m, v, viewer);
      expect(res.errors?.[0].extensions?.code, m).toBe("FORBIDDEN");
    }
    expect(await giftCount()).toBe(before);
    const price = await env.gql(`query ($id: ID!) { gift(id: $id) { coinCost status } }`, { id: rose });
    expect(price.data.gift).toEqual({ coinCost: 1, status: "ACTIVE" });
  });
});

describe("createGift", () => {
  it("creates a gift with its first price period and CDN URLs, visible in the listing", async () => {
    const res = await env.gql(CREATE, { input: valid({ animationUrl: `${env.catalog.services.cdnBaseUrl}/fx/snow-globe.webm`, regions: ["US", "CA"] }) }, env.adminToken);
    expect(res.errors).toBeUndefined();
    expect(res.data.createGift.userErrors).toEqual([]);
    const g = res.data.createGift.gift;
    expect(g).toMatchObject({
      slug: "snow-globe", coinCost: 250, category: "SPECIAL", status: "ACTIVE", streakable: false, regions: ["US", "CA"],
      imageUrl: `${env.catalog.services.cdnBaseUrl}/snow-globe.png`, animationUrl: `${env.catalog.services.cdnBaseUrl}/fx/snow-globe.webm`,
    });
    const periods = await env.catalog.dataSource.query(`SELECT coin_cost, reason, changed_by FROM catalog.gift_prices WHERE gift_id = $1`, [g.id]);
    expect(periods).toEqual([{ coin_cost: 250, reason: "INITIAL", changed_by: "admin-1" }]);
    const list = await env.gql(`{ gifts(region: "CA") { slug } }`);
    expect(list.data.gifts.map((x: any) => x.slug)).toContain("snow-globe");
    // Default sort order: after every other gift.
    expect(g.sortOrder).toBeGreaterThan(Math.max(...(await env.catalog.dataSource.query(`SELECT sort_order FROM catalog.gifts WHERE id <> $1`, [g.id])).map((r: any) => r.sort_order)));
  });

  it("refuses a taken slug with SLUG_TAKEN", async () => {
    const res = await env.gql(CREATE, { input: valid({ slug: "rose" }) }, env.adminToken);
    expect(res.data.createGift).toEqual({ gift: null, userErrors: [expect.objectContaining({ code: "SLUG_TAKEN", field: ["input", "slug"] })] });
  });

  it("lets exactly one of two concurrent creations of the same slug succeed; the other gets SLUG_TAKEN", async () => {
    const [a, b] = await Promise.all([1, 2].map((i) => env.gql(CREATE, { input: valid({ slug: "race-slug", name: `Race ${i}` }) }, env.adminToken)));
    const codes = [a, b].map((r) => r.data.createGift.userErrors.map((e: any) => e.code).join(",")).sort();
    expect(codes).toEqual(["", "SLUG_TAKEN"]);
    expect((await env.catalog.dataSource.query(`SELECT count(*)::int AS n FROM catalog.gifts WHERE slug = 'race-slug'`))[0].n).toBe(1);
  });

  it.each([
    [{ coinCost: 0 }, "INVALID_INPUT", "coinCost"],
    [{ coinCost: 1_000_001 }, "INVALID_INPUT", "coinCost"],
    [{ coinCost: -5 }, "INVALID_INPUT", "coinCost"],
    [{ slug: "Bad Slug!" }, "INVALID_INPUT", "slug"],
    [{ name: "   " }, "INVALID_INPUT", "name"],
    [{ category: "LEGENDARY" }, "UNKNOWN_CATEGORY", "category"],
    [{ regions: ["US", "XX"] }, "UNKNOWN_REGION", "regions"],
    [{ regions: ["usa"] }, "UNKNOWN_REGION", "regions"],
    [{ regions: [] }, "INVALID_INPUT", "regions"],
    [{ imageUrl: "https://evil.example.net/x.png" }, "INVALID_INPUT", "imageUrl"],
    [{ imageUrl: "../../etc/passwd" }, "INVALID_INPUT", "imageUrl"],
    [{ availableFrom: "2030-01-02T00:00:00Z", availableUntil: "2030-01-02T00:00:00Z" }, "INVALID_INPUT", "availableUntil"],
    [{ availableFrom: "2030-01-02T00:00:00Z", availableUntil: "2030-01-01T00:00:00Z" }, "INVALID_INPUT", "availableUntil"],
    [{ availableUntil: "2020-01-01T00:00:00Z" }, "INVALID_INPUT", "availableUntil"],
  ])("refuses %j with %s on input.%s and creates nothing", async (over, code, field) => {
    const before = await giftCount();
    const res = await env.gql(CREATE, { input: valid({ slug: `v-${Math.random().toString(36).slice(2, 8)}`, ...over }) }, env.adminToken);
    expect(res.errors).toBeUndefined();
    expect(res.data.createGift.gift).toBeNull();
    expect(res.data.createGift.userErrors).toContainEqual(expect.objectContaining({ code, field: ["input", field] }));
    expect(await giftCount()).toBe(before);
  });

  it("reports every problem of an input at once", async () => {
    const res = await env.gql(CREATE, { input: valid({ slug: "rose", coinCost: 0, category: "NOPE", regions: ["ZZ"] }) }, env.adminToken);
    expect(res.data.createGift.userErrors.map((e: any) => e.code).sort()).toEqual(["INVALID_INPUT", "SLUG_TAKEN", "UNKNOWN_CATEGORY", "UNKNOWN_REGION"]);
  });

  it("rejects a malformed timestamp with BAD_USER_INPUT, not a 500", async () => {
    const res = await env.gql(CREATE, { input: valid({ slug: "bad-date", availableFrom: "next tuesday" }) }, env.adminToken);
    expect(res.status).toBeLessThan(500);
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});

describe("updateGift", () => {
  it("changes only the fields sent; null clears a nullable field", async () => {
    const id = await env.giftId("galaxy");
    const a = await env.gql(UPDATE, { input: { id, name: "Galaxy Deluxe", regions: ["US"], availableUntil: "2040-01-01T00:00:00.000Z" } }, env.adminToken);
    expect(a.data.updateGift.userErrors).toEqual([]);
    expect(a.data.updateGift.gift).toMatchObject({ name: "Galaxy Deluxe", slug: "galaxy", coinCost: 1000, regions: ["US"], availableUntil: "2040-01-01T00:00:00.000Z" });
    expect(a.data.updateGift.gift.animationUrl).toMatch(/galaxy-animation\.svg$/);
    const b = await env.gql(UPDATE, { input: { id, regions: null, availableUntil: null, animationUrl: null } }, env.adminToken);
    expect(b.data.updateGift.gift).toMatchObject({ name: "Galaxy Deluxe", regions: null, availableUntil: null, animationUrl: null });
  });

  it("applies a new coinCost immediately and records it in the price history", async () => {
    const id = await env.giftId("corgi");
    const res = await env.gql(UPDATE, { input: { id, coinCost: 349, priceNote: "winter pricing" } }, env.adminToken);
    expect(res.data.updateGift.gift.coinCost).toBe(349);
    const rows = await env.catalog.dataSource.query(`SELECT coin_cost, reason, note, changed_by FROM catalog.gift_prices WHERE gift_id = $1 ORDER BY effective_from`, [id]);
    expect(rows.map((r: any) => [r.coin_cost, r.reason])).toEqual([[299, "INITIAL"], [349, "UPDATE"]]);
    expect(rows[1]).toMatchObject({ note: "winter pricing", changed_by: "admin-1" });
  });

  it("validates the merged window: a new end before the stored start is refused and nothing changes", async () => {
    const created = await env.gql(CREATE, { input: valid({ slug: "window-gift", availableFrom: "2035-06-01T00:00:00Z", availableUntil: "2035-07-01T00:00:00Z" }) }, env.adminToken);
    const id = created.data.createGift.gift.id;
    const res = await env.gql(UPDATE, { input: { id, availableUntil: "2035-05-01T00:00:00Z", name: "Renamed" } }, env.adminToken);
    expect(res.data.updateGift.userErrors).toContainEqual(expect.objectContaining({ code: "INVALID_INPUT", field: ["input", "availableUntil"] }));
    const row = await env.gql(`query ($id: ID!) { gift(id: $id) { name availableUntil } }`, { id });
    expect(row.data.gift).toEqual({ name: "Snow Globe", availableUntil: "2035-07-01T00:00:00.000Z" });
  });

  it("refuses to take another gift's slug, to clear a required field, and unknown ids", async () => {
    const id = await env.giftId("swan");
    expect((await env.gql(UPDATE, { input: { id, slug: "rose" } }, env.adminToken)).data.updateGift.userErrors[0].code).toBe("SLUG_TAKEN");
    expect((await env.gql(UPDATE, { input: { id, name: null } }, env.adminToken)).data.updateGift.userErrors[0].code).toBe("INVALID_INPUT");
    expect((await env.gql(UPDATE, { input: { id: "00000000-0000-4000-8000-000000000000", name: "x" } }, env.adminToken)).data.updateGift.userErrors[0].code).toBe("NOT_FOUND");
  });

  it("orders concurrent immediate price changes as they were serialized: the last committed price is the one in force", async () => {
    const id = await env.giftId("lion");
    const prices = [30001, 30002, 30003, 30004, 30005, 30006];
    await Promise.all(prices.map((coinCost) => env.gql(UPDATE, { input: { id, coinCost } }, env.adminToken)));
    const rows = await env.catalog.dataSource.query(
      `SELECT coin_cost FROM catalog.gift_prices WHERE gift_id = $1 AND reason = 'UPDATE' ORDER BY effective_from DESC, id DESC LIMIT 1`,
      [id],
    );
    const lastCommitted = (await env.catalog.dataSource.query(`SELECT coin_cost FROM catalog.gift_prices WHERE gift_id = $1 ORDER BY id DESC LIMIT 1`, [id]))[0].coin_cost;
    const now = await env.gql(`query ($id: ID!) { gift(id: $id) { coinCost } }`, { id });
    expect(now.data.gift.coinCost).toBe(rows[0].coin_cost);
    expect(now.data.gift.coinCost).toBe(lastCommitted);
  });
});

describe("retireGift", () => {
  it("retires a gift, idempotently, and it stops being listed", async () => {
    const id = await env.giftId("sunglasses");
    const first = await env.gql(RETIRE, { id }, env.adminToken);
    const second = await env.gql(RETIRE, { id }, env.adminToken);
    expect(first.data.retireGift).toEqual({ gift: { id, status: "RETIRED" }, userErrors: [] });
    expect(second.data.retireGift).toEqual({ gift: { id, status: "RETIRED" }, userErrors: [] });
    const list = await env.gql(`{ gifts { slug } }`);
    expect(list.data.gifts.map((g: any) => g.slug)).not.toContain("sunglasses");
  });

  it("answers NOT_FOUND for an unknown gift", async () => {
    const res = await env.gql(RETIRE, { id: "00000000-0000-4000-8000-000000000000" }, env.adminToken);
    expect(res.data.retireGift).toEqual({ gift: null, userErrors: [{ code: "NOT_FOUND", field: ["id"] }] });
  });
});
