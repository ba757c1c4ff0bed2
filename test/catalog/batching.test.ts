import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCatalogOnly } from "./support.js";

let env: Awaited<ReturnType<typeof startCatalogOnly>>;
let ids: string[];
beforeAll(async () => {
  env = await startCatalogOnly("catbatch");
  ids = (await env.catalog.dataSource.query(`SELECT id FROM catalog.gifts ORDER BY sort_order`)).map((r: { id: string }) => r.id);
  // Give every gift more than one period, so a per-gift query would show up in the count.
  for (const id of ids) {
    await env.catalog.dataSource.query(`INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason) VALUES ($1, 7, now() + interval '30 days', 'SCHEDULED')`, [id]);
  }
});
afterAll(async () => {
  await env?.stop();
});

describe("N+1 guard: the catalog's SQL statements do not grow with the number of gifts", () => {
  it("100 Gift references with prices from the periods table resolve with 1 SQL query", async () => {
    const representations = Array.from({ length: 100 }, (_, i) => ({ __typename: "Gift", id: ids[i % ids.length] }));
    env.catalog.queries.reset();
    const res = await env.gql(`query ($r: [_Any!]!) { _entities(representations: $r) { ... on Gift { id name coinCost imageUrl } } }`, { r: representations });
    expect(res.errors).toBeUndefined();
    expect(res.data._entities).toHaveLength(100);
    expect(res.data._entities.every((g: any) => Number.isInteger(g.coinCost))).toBe(true);
    expect(env.catalog.queries.count).toBe(1);
  });

  it("100 references asking priceAt and priceHistory cost 3 queries in total (gifts, prices at, histories)", async () => {
    const representations = Array.from({ length: 100 }, (_, i) => ({ __typename: "Gift", id: ids[i % ids.length] }));
    env.catalog.queries.reset();
    const res = await env.gql(
      `query ($r: [_Any!]!) { _entities(representations: $r) { ... on Gift { id priceAt(at: "2026-01-01T00:00:00Z") { coinCost } priceHistory { coinCost } } } }`,
      { r: representations },
    );
    expect(res.errors).toBeUndefined();
    expect(env.catalog.queries.count).toBe(3);
  });

  it("listing every gift with its history and a past price costs 3 queries", async () => {
    env.catalog.queries.reset();
    const res = await env.gql(`{ gifts(includeUpcoming: true) { id coinCost priceHistory { coinCost validUntil } priceAt(at: "2026-01-01T00:00:00Z") { coinCost } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.gifts.length).toBeGreaterThanOrEqual(22);
    expect(env.catalog.queries.count).toBe(3);
  });

  it("the wallet's owner read for 100 gifts costs 1 query", async () => {
    env.catalog.queries.reset();
    const res = await env.gql(`query ($ids: [ID!]!) { giftsForSending(ids: $ids, region: "US") { id coinCost sendable } }`, {
      ids: Array.from({ length: 100 }, (_, i) => ids[i % ids.length]),
    });
    expect(res.errors).toBeUndefined();
    expect(res.data.giftsForSending).toHaveLength(100);
    expect(env.catalog.queries.count).toBe(1);
  });
});
