import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("ratelimit");
});
afterAll(async () => {
  await stack?.stop();
});

const REQUEST_PAYOUT = `mutation ($input: RequestPayoutInput!) { requestPayout(input: $input) { payout { id } userErrors { code } } }`;

async function requestPayout(token: string, key: string) {
  const res = await fetch(stack.gateway.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: REQUEST_PAYOUT, variables: { input: { diamonds: 10_000, idempotencyKey: key } } }),
  });
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.json() };
}

describe("per-user rate limits on money mutations, through the gateway", () => {
  it("answers the 6th payout request within a minute with RATE_LIMITED, HTTP 429 and when to retry; other users are unaffected", async () => {
    const host = await mintToken({ sub: "rl-host", roles: ["viewer", "host"] });
    const answers = [];
    for (let i = 0; i < 6; i++) answers.push(await requestPayout(host, `rl-${i}`));

    // The first five reach earnings (a host with no diamonds gets a business error, nothing reserved).
    for (const a of answers.slice(0, 5)) {
      expect(a.status).toBe(200);
      expect(a.body.data.requestPayout.payout).toBeNull();
      expect(a.body.data.requestPayout.userErrors[0].code).toMatch(/INSUFFICIENT_DIAMONDS|BELOW_MINIMUM/);
    }
    const limited = answers[5];
    expect(limited.status).toBe(429);
    expect(limited.body.errors[0].extensions.code).toBe("RATE_LIMITED");
    const wait = limited.body.errors[0].extensions.retryAfterSeconds;
    expect(wait).toBeGreaterThanOrEqual(1);
    expect(wait).toBeLessThanOrEqual(60);
    expect(limited.retryAfter).toBe(String(wait));

    const other = await requestPayout(await mintToken({ sub: "rl-other-host", roles: ["viewer", "host"] }), "rl-x");
    expect(other.status).toBe(200);
    expect(other.body.errors).toBeUndefined();
  });

  it("a refused request changes nothing: no payout rows, no idempotency key taken", async () => {
    const [{ n }] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n FROM earnings.payouts WHERE creator_id = 'rl-host'`);
    expect(n).toBe(0);
    const [{ k }] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS k FROM earnings.idempotency_keys WHERE user_id = 'rl-host' AND key = 'rl-5'`);
    expect(k).toBe(0);
  });
});
