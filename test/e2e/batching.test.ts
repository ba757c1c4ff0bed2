import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { post, startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("batching");
});
afterAll(async () => {
  await stack?.stop();
});

/** SQL statements that touched `table` (background work such as the event consumer queries other tables). */
const touching = (counter: { queries: string[] }, table: string) => counter.queries.filter((q) => q.includes(table));

const entities = (type: string) => `query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on ${type} { id } } }`;

describe("entity references are batched with DataLoader", () => {
  it("100 Gift references resolve with 1 SQL query", async () => {
    const { catalog } = stack.subgraphs;
    const ids: string[] = (await catalog.dataSource.query(`SELECT id FROM catalog.gifts ORDER BY sort_order`)).map((r: { id: string }) => r.id);
    const representations = Array.from({ length: 100 }, (_, i) => ({ __typename: "Gift", id: ids[i % ids.length] }));
    catalog.queries.reset();
    const res = await post(catalog.url, entities("Gift"), { representations }, { service: "catalog" });
    expect(res.errors).toBeUndefined();
    expect(res.data._entities).toHaveLength(100);
    expect(res.data._entities[99].id).toBe(ids[99 % ids.length]);
    expect(touching(catalog.queries, "gifts")).toHaveLength(1);
  });

  it("100 Creator references from the gateway's plan resolve with 1 SQL query", async () => {
    const { earnings } = stack.subgraphs;
    const values = Array.from({ length: 100 }, (_, i) => `('c${i}', 'Creator ${i}')`).join(",");
    await earnings.dataSource.query(`INSERT INTO earnings.creators (id, display_name) VALUES ${values}`);
    const representations = Array.from({ length: 100 }, (_, i) => ({ __typename: "Creator", id: `c${i}` }));
    earnings.queries.reset();
    const res = await post(earnings.url, entities("Creator"), { representations }, { service: "earnings" });
    expect(res.data._entities.map((e: { id: string }) => e.id)).toEqual(representations.map((r) => r.id));
    expect(touching(earnings.queries, "creators")).toHaveLength(1);
  });

  it("100 User references with their wallets (as the gateway sends them) cost the wallet 1 SQL query", async () => {
    const { wallet } = stack.subgraphs;
    const token = await mintToken({ sub: "admin-1", roles: ["admin"] });
    const representations = Array.from({ length: 100 }, (_, i) => ({ __typename: "User", id: `u${i}` }));
    wallet.queries.reset();
    const res = await post(
      wallet.url,
      `query ($representations: [_Any!]!) { _entities(representations: $representations) { ... on User { id wallet { coins } } } }`,
      { representations },
      { token, service: "wallet" },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data._entities).toHaveLength(100);
    expect(res.data._entities[42]).toEqual({ id: "u42", wallet: { coins: 0 } });
    expect(touching(wallet.queries, "accounts")).toHaveLength(1);
  });
});
