import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isListed, sendability } from "../../subgraphs/catalog/domain/gifts.js";
import { mintToken } from "../../platform/auth.js";
import { startCatalogOnly } from "./support.js";

let env: Awaited<ReturnType<typeof startCatalogOnly>>;
beforeAll(async () => {
  env = await startCatalogOnly("catvis");
});
afterAll(async () => {
  await env?.stop();
});

const FROM = new Date("2030-02-01T00:00:00.000Z");
const UNTIL = new Date("2030-02-15T00:00:00.000Z");
const ms = (d: Date, delta: number) => new Date(d.getTime() + delta);

describe("the window rule, as a pure function: [availableFrom, availableUntil)", () => {
  const g = { status: "ACTIVE" as const, availableFrom: FROM, availableUntil: UNTIL, regions: null, nextPriceAt: null, category: "EVENT" };
  it("is not sendable one millisecond before availableFrom, and says NOT_STARTED", () => {
    expect(sendability(g, "US", ms(FROM, -1))).toMatchObject({ sendable: false, reason: "NOT_STARTED", stableUntil: FROM });
  });
  it("is sendable exactly at availableFrom (inclusive)", () => {
    expect(sendability(g, "US", FROM)).toMatchObject({ sendable: true, reason: null, stableUntil: UNTIL });
  });
  it("is sendable one millisecond before availableUntil", () => {
    expect(sendability(g, "US", ms(UNTIL, -1))).toMatchObject({ sendable: true, stableUntil: UNTIL });
  });
  it("is not sendable exactly at availableUntil (exclusive), and says ENDED", () => {
    expect(sendability(g, "US", UNTIL)).toMatchObject({ sendable: false, reason: "ENDED", stableUntil: null });
  });
  it("lists an upcoming gift only with includeUpcoming, and never an ended one", () => {
    expect(isListed(g, {}, ms(FROM, -1))).toBe(false);
    expect(isListed(g, { includeUpcoming: true }, ms(FROM, -1))).toBe(true);
    expect(isListed(g, { includeUpcoming: true }, UNTIL)).toBe(false);
  });
  it("says RETIRED before anything else, and NOT_IN_REGION outside the gift's regions", () => {
    expect(sendability({ ...g, status: "RETIRED" }, "US", FROM).reason).toBe("RETIRED");
    expect(sendability({ ...g, regions: ["JP"] }, "US", FROM).reason).toBe("NOT_IN_REGION");
    expect(sendability({ ...g, regions: ["JP"] }, "JP", FROM).reason).toBe(null);
  });
});

describe("visibility on real PostgreSQL at the exact boundary instants", () => {
  let eventId: string;
  beforeAll(async () => {
    const gift = await env.catalog.services.admin.createGift(
      {
        slug: "carnival-mask", name: "Carnival Mask", description: "", coinCost: 77, category: "EVENT", imageUrl: "carnival-mask.png",
        animationUrl: null, streakable: false, availableFrom: FROM, availableUntil: UNTIL, regions: ["BR", "PT"], sortOrder: null,
      },
      "admin-1",
    );
    eventId = gift.id;
  });

  const listedAt = async (at: Date, region: string, includeUpcoming = false) =>
    (await env.catalog.services.gifts.list({ at, region, includeUpcoming })).some((g) => g.id === eventId);
  const sendableAt = async (at: Date, region: string) => {
    const [g] = await env.catalog.services.gifts.byIds([eventId], at);
    return sendability(g!, region, g!.now);
  };

  it("hides the event gift 1 ms before its window, shows it with includeUpcoming, and refuses to send it (NOT_STARTED)", async () => {
    expect(await listedAt(ms(FROM, -1), "BR")).toBe(false);
    expect(await listedAt(ms(FROM, -1), "BR", true)).toBe(true);
    expect(await sendableAt(ms(FROM, -1), "BR")).toMatchObject({ sendable: false, reason: "NOT_STARTED" });
  });

  it("lists and sends it from exactly availableFrom", async () => {
    expect(await listedAt(FROM, "BR")).toBe(true);
    expect(await sendableAt(FROM, "BR")).toMatchObject({ sendable: true, reason: null });
  });

  it("still lists and sends it 1 ms before availableUntil", async () => {
    expect(await listedAt(ms(UNTIL, -1), "PT")).toBe(true);
    expect(await sendableAt(ms(UNTIL, -1), "PT")).toMatchObject({ sendable: true });
  });

  it("neither lists (even with includeUpcoming) nor sends it from exactly availableUntil (ENDED)", async () => {
    expect(await listedAt(UNTIL, "BR")).toBe(false);
    expect(await listedAt(UNTIL, "BR", true)).toBe(false);
    expect(await sendableAt(UNTIL, "BR")).toMatchObject({ sendable: false, reason: "ENDED" });
  });

  it("does not list it in a region it is not sold in, and refuses to send it there (NOT_IN_REGION)", async () => {
    expect(await listedAt(FROM, "US")).toBe(false);
    expect(await sendableAt(FROM, "US")).toMatchObject({ sendable: false, reason: "NOT_IN_REGION" });
  });
});

describe("Query.gifts / gift / giftCategories over HTTP", () => {
  const q = `query ($region: String, $category: String, $up: Boolean) { gifts(region: $region, category: $category, includeUpcoming: $up) { slug category regions availableFrom availableUntil } }`;
  const slugs = (res: any) => (res.data.gifts as { slug: string }[]).map((g) => g.slug);

  it("lists the 21 seeded gifts plus the running worldwide event gift to anonymous callers in display order", async () => {
    const res = await env.gql(q, { region: "US" });
    expect(res.errors).toBeUndefined();
    expect(slugs(res)).toContain("winter-lantern");
    expect(slugs(res)).not.toContain("lucky-cat"); // JP/TW/HK/SG only
    expect(slugs(res)[0]).toBe("rose");
    expect(res.data.gifts.filter((g: any) => g.category !== "EVENT")).toHaveLength(21);
  });

  it("shows region-limited gifts in their regions", async () => {
    expect(slugs(await env.gql(q, { region: "JP" }))).toContain("lucky-cat");
  });

  it("defaults the region to the caller's token region", async () => {
    const jp = await mintToken({ sub: "viewer-jp", region: "JP" });
    const us = await mintToken({ sub: "viewer-us", region: "US" });
    expect(slugs(await env.gql(`{ gifts { slug } }`, {}, jp))).toContain("lucky-cat");
    expect(slugs(await env.gql(`{ gifts { slug } }`, {}, us))).not.toContain("lucky-cat");
  });

  it("filters by category", async () => {
    const res = await env.gql(q, { category: "PREMIUM" });
    expect(res.data.gifts.length).toBe(6);
    expect(res.data.gifts.every((g: any) => g.category === "PREMIUM")).toBe(true);
  });

  it("lists a future event gift only with includeUpcoming", async () => {
    expect(slugs(await env.gql(q, { region: "BR" }))).not.toContain("carnival-mask");
    expect(slugs(await env.gql(q, { region: "BR", up: true }))).toContain("carnival-mask");
  });

  it("hides a retired gift from the listing but still resolves it by id", async () => {
    const id = await env.giftId("doughnut");
    await env.catalog.services.admin.retireGift(id);
    expect(slugs(await env.gql(q, {}))).not.toContain("doughnut");
    const res = await env.gql(`query ($id: ID!) { gift(id: $id) { slug status coinCost } }`, { id });
    expect(res.data.gift).toEqual({ slug: "doughnut", status: "RETIRED", coinCost: 30 });
  });

  it("rejects a malformed region with BAD_USER_INPUT", async () => {
    const res = await env.gql(q, { region: "usa" });
    expect(res.status).toBe(200);
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("lists the categories in display order", async () => {
    const res = await env.gql(`{ giftCategories { key name sortOrder } }`);
    expect(res.data.giftCategories.map((c: any) => c.key)).toEqual(["BASIC", "PREMIUM", "SPECIAL", "EVENT"]);
  });

  it("lists the known markets a gift can be limited to", async () => {
    const res = await env.gql(`{ catalogRegions { code name } }`);
    expect(res.data.catalogRegions).toContainEqual({ code: "JP", name: "Japan" });
    expect(res.data.catalogRegions.map((r: any) => r.code)).not.toContain("XX");
  });

  it("builds asset URLs from the configured CDN base", async () => {
    const res = await env.gql(`{ gifts(region: "US") { slug imageUrl animationUrl } }`);
    const rose = res.data.gifts.find((g: any) => g.slug === "rose");
    const base = env.catalog.services.cdnBaseUrl;
    expect(rose).toEqual({ slug: "rose", imageUrl: `${base}/rose.svg`, animationUrl: null });
    expect(res.data.gifts.find((g: any) => g.slug === "galaxy").animationUrl).toBe(`${base}/galaxy-animation.svg`);
  });
});
