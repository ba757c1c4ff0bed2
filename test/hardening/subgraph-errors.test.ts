import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { post, startStack, type GraphQLResponse, type Stack } from "../support/stack.js";

/**
 * A client's mistake that a subgraph recognises must reach the client as that typed client error,
 * with its message, through the gateway — never masked as INTERNAL_SERVER_ERROR. And a subgraph's
 * `_entities` with a typename that is not one of its entities is the caller's mistake too.
 */
let stack: Stack;
let giftId: string;
let admin: string;
beforeAll(async () => {
  stack = await startStack("subgraph-errors");
  giftId = (await stack.gql(`{ gifts { id } }`)).data.gifts[0].id;
  admin = await mintToken({ sub: "se-admin", roles: ["viewer", "admin"] });
});
afterAll(async () => {
  await stack?.stop();
});

function expectClientError(res: GraphQLResponse, code: RegExp, message: RegExp): void {
  expect(res.status, "4xx or 200, never 5xx").toBeLessThan(500);
  expect(res.errors?.length, JSON.stringify(res)).toBeGreaterThan(0);
  for (const e of res.errors!) {
    expect(e.extensions?.code, JSON.stringify(e)).not.toBe("INTERNAL_SERVER_ERROR");
    expect(e.message).not.toMatch(/^Internal error/);
  }
  expect(res.errors![0].extensions?.code).toMatch(code);
  expect(res.errors![0].message).toMatch(message);
}

const PRICE_AT_VAR = `query($at: DateTimeISO!, $id: ID!) { gift(id: $id) { priceAt(at: $at) { coinCost } } }`;
const SCHEDULE = `mutation($i: ScheduleGiftPriceInput!) { scheduleGiftPrice(input: $i) { scheduledPrice { validFrom } userErrors { code } } }`;

describe("a subgraph's client error reaches the client through the gateway as a typed client error", () => {
  const literal = (at: string) => `{ gift(id: "${giftId}") { priceAt(at: ${at}) { coinCost } } }`;

  it.each([
    ["\"yesterday\"", /invalid date-time-string yesterday/],
    ["\"2026-12-01\"", /2026-12-01/],
    ["1764547200", /DateTime/],
  ])("Gift.priceAt(at: %s) as a literal is GRAPHQL_VALIDATION_FAILED with the catalog's message", async (at, message) => {
    expectClientError(await stack.gql(literal(at)), /^GRAPHQL_VALIDATION_FAILED$/, message);
  });

  it.each([
    ["yesterday", /yesterday/],
    ["2026-12-01", /2026-12-01/],
    [1764547200, /DateTime/],
  ])("Gift.priceAt(at: $at) with the variable %j is BAD_USER_INPUT naming the variable", async (at, message) => {
    const res = await stack.gql(PRICE_AT_VAR, { at, id: giftId });
    expectClientError(res, /^BAD_USER_INPUT$/, message);
    expect(res.errors![0].message).toMatch(/\$at/);
  });

  it("an admin's scheduleGiftPrice with effectiveAt \"tomorrow\" is BAD_USER_INPUT and schedules nothing", async () => {
    const [{ n: before }] = await stack.subgraphs.catalog.dataSource.query(`SELECT count(*)::int AS n FROM catalog.gift_prices`);
    const res = await stack.gql(SCHEDULE, { i: { giftId, coinCost: 7, effectiveAt: "tomorrow", note: "x" } }, admin);
    expectClientError(res, /^BAD_USER_INPUT$/, /tomorrow/);
    const lit = await stack.gql(`mutation { scheduleGiftPrice(input: { giftId: "${giftId}", coinCost: 7, effectiveAt: "tomorrow" }) { userErrors { code } } }`, {}, admin);
    expectClientError(lit, /^GRAPHQL_VALIDATION_FAILED$/, /tomorrow/);
    const [{ n: after }] = await stack.subgraphs.catalog.dataSource.query(`SELECT count(*)::int AS n FROM catalog.gift_prices`);
    expect(after).toBe(before);
  });

  it("a well-formed instant still answers (the pass-through changes nothing for good requests)", async () => {
    const res = await stack.gql(PRICE_AT_VAR, { at: new Date().toISOString(), id: giftId });
    expect(res.errors).toBeUndefined();
    expect(res.data.gift.priceAt.coinCost).toBeGreaterThan(0);
  });
});

describe("_entities with a representation that is not an entity is BAD_USER_INPUT on every subgraph", () => {
  const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { __typename } }`;
  const cases: [name: "wallet" | "catalog" | "earnings", rep: Record<string, unknown>][] = [
    ["wallet", { __typename: "NoSuchType", id: "x" }],
    ["wallet", { __typename: "WalletTransaction", id: "x" }],
    ["wallet", { __typename: "Money", id: "x" }],
    ["wallet", { id: "x" }],
    ["catalog", { __typename: "NoSuchType", id: "x" }],
    ["catalog", { __typename: "GiftPrice", id: "x" }],
    ["catalog", { __typename: "String" }],
    ["earnings", { __typename: "NoSuchType", id: "x" }],
    ["earnings", { __typename: "Money", id: "x" }],
    ["earnings", { __typename: "Query" }],
  ];

  it.each(cases)("%s: %j", async (subgraph, rep) => {
    const res = await post(stack.subgraphs[subgraph].url, ENTITIES, { r: [rep] }, { service: subgraph });
    expectClientError(res, /^BAD_USER_INPUT$/, /is not an entity of this subgraph/);
    expect(res.errors![0].extensions?.field).toEqual(["representations", "0", "__typename"]);
  });

  it("a real entity still resolves beside the check", async () => {
    const res = await post(stack.subgraphs.catalog.url, `query($r: [_Any!]!) { _entities(representations: $r) { ... on Gift { id } } }`, { r: [{ __typename: "Gift", id: giftId }] }, { service: "catalog" });
    expect(res.errors).toBeUndefined();
    expect(res.data._entities).toEqual([{ id: giftId }]);
  });
});
