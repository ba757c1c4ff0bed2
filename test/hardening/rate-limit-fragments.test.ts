import { randomUUID } from "node:crypto";
import { buildSchema, getOperationAST, parse } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { collectRootFields } from "../../platform/root-fields.js";
import type { RunningGateway } from "../../gateway/index.js";
import { MONEY_MUTATION_LIMITS } from "../../platform/money-rate-limit.js";
import { TokenBuckets } from "../../platform/token-bucket.js";
import { startStack, type Stack } from "../support/stack.js";

/**
 * The money rate limit counts the root fields an operation executes, collected as graphql-js
 * does: a fragment (inline or named) around `sendGift` / `requestPayout` costs the same token as
 * the bare field. Before, only top-level field selections were counted and both bypassed it.
 */
let stack: Stack;
/** The production sendGift burst (50) without its refill, so "how many pass" does not depend on how fast this machine is. */
let noRefill: RunningGateway;
beforeAll(async () => {
  stack = await startStack("ratelimitfrag");
  noRefill = await stack.startGateway({
    rateLimiter: new TokenBuckets({ ...MONEY_MUTATION_LIMITS, sendGift: { capacity: MONEY_MUTATION_LIMITS.sendGift.capacity, refillPerSecond: 1 / 3600 } }),
  });
}, 60_000);
afterAll(async () => {
  await noRefill?.stop();
  await stack?.stop();
});

const PAYOUT_FIELDS = `payout { id } userErrors { code }`;
const payoutShapes: Record<string, string> = {
  "an inline fragment on Mutation": `mutation($input: RequestPayoutInput!) { ... on Mutation { requestPayout(input: $input) { ${PAYOUT_FIELDS} } } }`,
  "a named fragment spread": `mutation($input: RequestPayoutInput!) { ...Pay } fragment Pay on Mutation { requestPayout(input: $input) { ${PAYOUT_FIELDS} } }`,
  "an untyped inline fragment with @include(if: true)": `mutation($input: RequestPayoutInput!, $yes: Boolean = true) { ... @include(if: $yes) { requestPayout(input: $input) { ${PAYOUT_FIELDS} } } }`,
};

async function post(query: string, variables: Record<string, unknown>, token: string, url = stack.gateway.url) {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: await res.json() };
}

describe("the money rate limit sees through fragments", () => {
  it.each(Object.entries(payoutShapes))("requestPayout inside %s: the 6th within a minute is RATE_LIMITED (5 burst) and nothing is reserved", async (shape, query) => {
    const sub = `rlf-host-${randomUUID().slice(0, 8)}`;
    const token = await mintToken({ sub, roles: ["viewer", "host"] });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await post(query, { input: { diamonds: 10_000, idempotencyKey: `${sub}-${i}` } }, token));
    for (const a of answers.slice(0, 5)) expect(a.body.data.requestPayout.userErrors[0].code, shape).toMatch(/INSUFFICIENT_DIAMONDS|BELOW_MINIMUM/);
    expect(answers[5].status).toBe(429);
    expect(answers[5].body.errors[0].extensions.code).toBe("RATE_LIMITED");
    const [{ n }] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n FROM earnings.idempotency_keys WHERE user_id = $1 AND key = $2`, [sub, `${sub}-5`]);
    expect(n).toBe(0);
  });

  it("two aliased requestPayout fields are two executions and spend two tokens", async () => {
    const sub = `rlf-alias-${randomUUID().slice(0, 8)}`;
    const token = await mintToken({ sub, roles: ["viewer", "host"] });
    const two = `mutation($a: RequestPayoutInput!, $b: RequestPayoutInput!) { a: requestPayout(input: $a) { ${PAYOUT_FIELDS} } b: requestPayout(input: $b) { ${PAYOUT_FIELDS} } }`;
    const vars = (i: number) => ({ a: { diamonds: 10_000, idempotencyKey: `${sub}-a${i}` }, b: { diamonds: 10_000, idempotencyKey: `${sub}-b${i}` } });
    expect((await post(two, vars(0), token)).status).toBe(200);
    expect((await post(two, vars(1), token)).status).toBe(200);
    // 4 of 5 spent: a third pair needs two and finds one.
    expect((await post(two, vars(2), token)).body.errors[0].extensions.code).toBe("RATE_LIMITED");
  });

  it("100 concurrent sendGift inside a named fragment: exactly the 50-send burst passes, the other 50 are RATE_LIMITED", async () => {
    const sub = `rlf-sender-${randomUUID().slice(0, 8)}`;
    const token = await mintToken({ sub, roles: ["viewer"], adult: true, region: "US" });
    const gifts = (await stack.gql(`{ gifts { id coinCost } }`)).data.gifts as { id: string; coinCost: number }[];
    const query = `mutation($i: SendGiftInput!) { ...Send } fragment Send on Mutation { sendGift(input: $i) { giftEvent { id } userErrors { code } } }`;
    const answers = await Promise.all(
      Array.from({ length: 100 }, (_, k) => post(query, { i: { giftId: gifts[0].id, hostId: "rlf-nobody", expectedUnitCost: gifts[0].coinCost, idempotencyKey: `${sub}-${k}` } }, token, noRefill.url)),
    );
    const limited = answers.filter((a) => a.body.errors?.[0]?.extensions?.code === "RATE_LIMITED").length;
    expect(limited).toBe(50);
    expect(answers.filter((a) => a.body.data?.sendGift?.userErrors?.[0]?.code === "HOST_NOT_FOUND").length, "the other 50 reached the wallet").toBe(50);
    expect(answers.filter((a) => a.body.data?.sendGift?.giftEvent).length, "no gift was sent (no coins)").toBe(0);
  });
});

describe("collectRootFields counts what graphql-js executes", () => {
  const schema = buildSchema(`type Query { x: Int } type Mutation { sendGift: Int requestPayout: Int }`);
  const fields = (q: string, vars: Record<string, unknown> = {}) => {
    const doc = parse(q);
    return collectRootFields(schema, doc, getOperationAST(doc)!, vars).sort();
  };
  it.each([
    ["a bare field", `mutation { sendGift }`, {}, ["sendGift"]],
    ["the same field twice under one key (merged: one execution)", `mutation { sendGift sendGift }`, {}, ["sendGift"]],
    ["aliased copies", `mutation { a: sendGift b: sendGift }`, {}, ["sendGift", "sendGift"]],
    ["a named fragment spread twice (collected once)", `mutation { ...F ...F } fragment F on Mutation { sendGift }`, {}, ["sendGift"]],
    ["nested inline fragments", `mutation { ... { ... on Mutation { requestPayout } } }`, {}, ["requestPayout"]],
    ["@skip(if: true)", `mutation { sendGift @skip(if: true) requestPayout }`, {}, ["requestPayout"]],
    ["@include(if: $v) with v false", `mutation($v: Boolean!) { ... @include(if: $v) { sendGift } requestPayout }`, { v: false }, ["requestPayout"]],
    ["@include with variables that do not coerce (counted, never fewer)", `mutation($v: Boolean!) { sendGift @include(if: $v) }`, { v: "nope" }, ["sendGift"]],
  ])("%s", (_name, q, vars, expected) => {
    expect(fields(q as string, vars as Record<string, unknown>)).toEqual(expected);
  });
});
