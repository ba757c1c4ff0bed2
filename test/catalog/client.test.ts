import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testSigner } from "../support/http.js";
import { CatalogClient, CatalogUnavailableError } from "../../subgraphs/catalog/transport/owner-reads-client.js";
import { pollUntil, startCatalogOnly } from "./support.js";

let env: Awaited<ReturnType<typeof startCatalogOnly>>;
let client: CatalogClient;
beforeAll(async () => {
  env = await startCatalogOnly("catclient");
  // A long TTL so that only NOTIFY (or stableUntil) can make a change visible in these tests.
  client = new CatalogClient({ url: env.catalog.url, databaseUrl: env.db.url, signer: testSigner("wallet"), ttlMs: 60_000 });
  await client.start();
});
afterAll(async () => {
  await client?.stop();
  await env?.stop();
});

/** A price change as an operator would make it: a new period in force from now. */
async function setPriceNow(giftId: string, coinCost: number) {
  await env.catalog.dataSource.query(
    `INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason, changed_by) VALUES ($1, $2, date_trunc('milliseconds', clock_timestamp()), 'UPDATE', 'test')`,
    [giftId, coinCost],
  );
}

describe("CatalogClient.giftForSending (the wallet's owner read)", () => {
  it("answers the current price and sendability of a seeded gift", async () => {
    const rose = await env.giftId("rose");
    expect(await client.giftForSending(rose, "US")).toEqual({ id: rose, name: "Rose", coinCost: 1, streakable: true, sendable: true, reason: null });
  });

  it("answers null for an unknown or malformed gift id", async () => {
    expect(await client.giftForSending("00000000-0000-4000-8000-000000000000", "US")).toBeNull();
    expect(await client.giftForSending("rose", "US")).toBeNull();
  });

  it("explains NOT_IN_REGION for a region-limited event gift outside its regions", async () => {
    const cat = await env.giftId("lucky-cat");
    expect(await client.giftForSending(cat, "US")).toMatchObject({ sendable: false, reason: "NOT_IN_REGION", coinCost: 88 });
    expect(await client.giftForSending(cat, "JP")).toMatchObject({ sendable: true, reason: null });
  });

  it("serves repeated reads from its cache while nothing changes", async () => {
    const corgi = await env.giftId("corgi");
    await client.giftForSending(corgi, "US");
    const before = { ...client.stats };
    for (let i = 0; i < 5; i++) expect((await client.giftForSending(corgi, "US"))?.coinCost).toBe(299);
    expect(client.stats.requests).toBe(before.requests);
    expect(client.stats.hits - before.hits).toBe(5);
  });

  it("batches concurrent reads into one HTTP request", async () => {
    const ids: string[] = (await env.catalog.dataSource.query(`SELECT id FROM catalog.gifts ORDER BY sort_order`)).map((r: { id: string }) => r.id);
    client.invalidate();
    const before = client.stats.requests;
    const answers = await Promise.all(ids.map((id) => client.giftForSending(id, "BR")));
    expect(answers.map((a) => a?.id)).toEqual(ids);
    expect(client.stats.requests - before).toBe(1);
  });

  it("batches concurrent reads for several regions into one HTTP request, each answered for its own region", async () => {
    const cat = await env.giftId("lucky-cat");
    const roseId = await env.giftId("rose");
    client.invalidate();
    const before = client.stats.requests;
    const [us, jp, sg, rose] = await Promise.all([
      client.giftForSending(cat, "US"),
      client.giftForSending(cat, "JP"),
      client.giftForSending(cat, "SG"),
      client.giftForSending(roseId, "DE"),
    ]);
    expect(client.stats.requests - before).toBe(1);
    expect([us?.reason, jp?.reason, sg?.reason, rose?.reason]).toEqual(["NOT_IN_REGION", null, null, null]);
  });

  it("sees a price change within 2 s through the catalog's NOTIFY, although its TTL is a minute", async () => {
    const swan = await env.giftId("swan");
    expect((await client.giftForSending(swan, "US"))?.coinCost).toBe(699);
    await setPriceNow(swan, 749);
    const seen = await pollUntil(() => client.giftForSending(swan, "US"), (g) => g?.coinCost === 749, 2000);
    expect(seen?.coinCost).toBe(749);
  });

  it("sees an admin's updateGift price change and a window change within 2 s", async () => {
    const fireworks = await env.giftId("fireworks");
    expect(await client.giftForSending(fireworks, "US")).toMatchObject({ coinCost: 1088, sendable: true });
    const res = await env.gql(
      `mutation ($input: UpdateGiftInput!) { updateGift(input: $input) { userErrors { code } } }`,
      { input: { id: fireworks, coinCost: 1188, availableFrom: "2039-01-01T00:00:00Z" } },
      env.adminToken,
    );
    expect(res.data.updateGift.userErrors).toEqual([]);
    const seen = await pollUntil(() => client.giftForSending(fireworks, "US"), (g) => g?.coinCost === 1188, 2000);
    expect(seen).toMatchObject({ coinCost: 1188, sendable: false, reason: "NOT_STARTED" });
  });

  it("sees a retirement within 2 s", async () => {
    const train = await env.giftId("train");
    expect((await client.giftForSending(train, "US"))?.sendable).toBe(true);
    await env.catalog.dataSource.query(`UPDATE catalog.gifts SET status = 'RETIRED' WHERE id = $1`, [train]);
    const seen = await pollUntil(() => client.giftForSending(train, "US"), (g) => g?.sendable === false, 2000);
    expect(seen).toMatchObject({ sendable: false, reason: "RETIRED" });
  });

  it("sees a scheduled price take effect at its time without any notification (the entry expires at stableUntil)", async () => {
    const galaxy = await env.giftId("galaxy");
    const at = new Date(Date.now() + 800);
    const invalidations = client.stats.invalidations;
    await env.catalog.dataSource.query(
      `INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason) VALUES ($1, 1200, $2, 'SCHEDULED')`,
      [galaxy, at],
    );
    // Let the insert's own notification pass, then cache the old price.
    await pollUntil(async () => client.isListening, (x) => x, 1000);
    await pollUntil(async () => client.stats.invalidations, (n) => n > invalidations, 1000);
    expect((await client.giftForSending(galaxy, "US"))?.coinCost).toBe(1000);
    const seen = await pollUntil(() => client.giftForSending(galaxy, "US"), (g) => g?.coinCost === 1200, 800 + 2000);
    expect(seen?.coinCost).toBe(1200);
    expect(Date.now()).toBeGreaterThanOrEqual(at.getTime());
  });

  it("recovers when its listener connection is killed: caches nothing meanwhile, reconnects, and still sees changes", async () => {
    const perfume = await env.giftId("perfume");
    expect((await client.giftForSending(perfume, "US"))?.coinCost).toBe(20);
    await env.catalog.dataSource.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'catalog-client-listener' AND datname = current_database()`);
    await setPriceNow(perfume, 25);
    expect((await pollUntil(() => client.giftForSending(perfume, "US"), (g) => g?.coinCost === 25, 2000))?.coinCost).toBe(25);
    await pollUntil(async () => client.isListening, (x) => x, 5000);
    expect(client.isListening).toBe(true);
    await client.giftForSending(perfume, "US");
    await setPriceNow(perfume, 30);
    expect((await pollUntil(() => client.giftForSending(perfume, "US"), (g) => g?.coinCost === 30, 2000))?.coinCost).toBe(30);
  });

  it("never lets a read made after an invalidation join a fetch that started before it", async () => {
    const finger = await env.giftId("finger-heart");
    client.invalidate(finger);
    const before = client.stats.requests;
    const first = client.giftForSending(finger, "US");
    const joined = client.giftForSending(finger, "US"); // same generation: shares the fetch
    await new Promise((r) => setImmediate(r)); // the batch is flushed: the request is on the wire, its answer not back yet
    expect(client.stats.requests - before).toBe(1);
    client.invalidate(finger); // a NOTIFY arrives while that fetch is in flight
    const after = client.giftForSending(finger, "US");
    await Promise.all([first, joined, after]);
    expect(client.stats.requests - before).toBe(2);
  });

  it("bounds its cache: a flood of distinct gift ids never holds more than maxEntries answers", async () => {
    const small = new CatalogClient({ url: env.catalog.url, databaseUrl: env.db.url, signer: testSigner("wallet"), ttlMs: 60_000, maxEntries: 5 });
    await small.start();
    try {
      for (let i = 0; i < 30; i++) await small.giftForSending(`00000000-0000-4000-8000-${String(i).padStart(12, "0")}`, "US");
      expect(small.cachedEntries).toBeLessThanOrEqual(5);
      const rose = await env.giftId("rose");
      expect((await small.giftForSending(rose, "US"))?.coinCost).toBe(1);
    } finally {
      await small.stop();
    }
  });

  it("throws CatalogUnavailableError when the catalog cannot be reached, never a guessed price", async () => {
    const offline = new CatalogClient({ url: "http://127.0.0.1:9/graphql", databaseUrl: env.db.url, signer: testSigner("wallet"), timeoutMs: 1000 });
    await expect(offline.giftForSending("00000000-0000-4000-8000-000000000001", "US")).rejects.toBeInstanceOf(CatalogUnavailableError);
  });
});
