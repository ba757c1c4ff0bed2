import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../../gateway/index.js";
import { mintToken } from "../../platform/auth.js";
import type { SandboxPaymentProvider } from "../../subgraphs/wallet/domain/payments/sandbox.js";
import { gift as giftSent, produce } from "../earnings/support.js";
import { generousRateLimiter, post, startStack, type GraphQLResponse, type Stack } from "../support/stack.js";

/**
 * The subgraphs' own per-user guard on money mutations (platform/rate-limit.ts MoneyRateLimiter):
 * a call that bypasses the gateway, or comes through another gateway instance, meets the same
 * limit, because it lives in one PostgreSQL row per user and action. Small limits for this file
 * (the defaults are the gateway's: 50 sends, 10 recharges, 5 payouts), refilled once a minute so
 * nothing refills while a test runs.
 */
process.env.MONEY_RATE_LIMITS = "sendGift=5:1,recharge=3:1,confirmRecharge=2:1,requestPayout=2:1";
const SEND_BURST = 5;

let stack: Stack;
/** Two more gateway instances whose own in-memory buckets never refuse: only the durable guard is in play. */
let gwA: RunningGateway;
let gwB: RunningGateway;
let rose: { id: string; coinCost: number };
const HOST = "mg-host";

const SEND = `mutation($input: SendGiftInput!) { sendGift(input: $input) { giftEvent { id coins } userErrors { code } } }`;
const RECHARGE = `mutation($input: RechargeInput!) { recharge(input: $input) { order { id status } userErrors { code } } }`;
const CONFIRM = `mutation($id: ID!) { confirmRecharge(orderId: $id) { order { id status } userErrors { code } } }`;
const PAYOUT = `mutation($input: RequestPayoutInput!) { requestPayout(input: $input) { payout { id diamonds } userErrors { code } } }`;

const viewer = (sub: string) => mintToken({ sub, name: `Viewer ${sub}`, roles: ["viewer"], region: "US", adult: true });
const host = (sub: string) => mintToken({ sub, name: `Host ${sub}`, roles: ["viewer", "host"], region: "US", adult: true });
const sandbox = () => stack.subgraphs.wallet.services.payments as SandboxPaymentProvider;
const wallet = () => stack.subgraphs.wallet.url;
const earnings = () => stack.subgraphs.earnings.url;
/** Straight to a subgraph the call is signed as the gateway would (subgraphs answer only signed callers): the user's token still decides who pays. */
const serviceOf = (url: string) => (url === wallet() ? "wallet" : url === earnings() ? "earnings" : undefined);
const call: typeof post = (url, query, variables, opts = {}) => post(url, query, variables, { ...opts, service: serviceOf(url) });

async function fund(user: string, coins: number): Promise<void> {
  const res = await call(wallet(), RECHARGE, { input: { customCoins: coins, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: `fund-${randomUUID()}` } }, { token: await viewer(user) });
  expect(res.data?.recharge?.order?.status, JSON.stringify(res)).toBe("SUCCEEDED");
}

const sendInput = (key = `mg-${randomUUID()}`) => ({ giftId: rose.id, hostId: HOST, quantity: 1, expectedUnitCost: rose.coinCost, idempotencyKey: key });

async function moneyOf(user: string) {
  const q = (sql: string) => stack.subgraphs.wallet.dataSource.query(sql, [user]);
  const [[a], [g], [l], [k]] = await Promise.all([
    q(`SELECT coins::int AS coins FROM wallet.accounts WHERE user_id = $1`),
    q(`SELECT count(*)::int AS n, coalesce(sum(coins), 0)::int AS coins FROM wallet.gift_events WHERE sender_id = $1`),
    q(`SELECT count(*)::int AS n FROM wallet.ledger_entries WHERE user_id = $1 AND type = 'GIFT_SENT'`),
    q(`SELECT count(*)::int AS n FROM wallet.idempotency_keys WHERE user_id = $1 AND operation = 'sendGift'`),
  ]);
  return { coins: a?.coins ?? 0, gifts: g.n, giftCoins: g.coins, giftEntries: l.n, keys: k.n };
}

function expectRateLimited(res: GraphQLResponse, action: string, maxWait: number): void {
  expect(res.status, JSON.stringify(res.errors)).toBe(429);
  expect(res.errors?.[0]?.extensions?.code).toBe("RATE_LIMITED");
  expect(res.errors![0].message).toContain(action);
  const wait = res.errors![0].extensions!.retryAfterSeconds;
  expect(wait).toBeGreaterThanOrEqual(1);
  expect(wait).toBeLessThanOrEqual(maxWait);
  expect(res.headers.get("retry-after")).toBe(String(wait));
}

beforeAll(async () => {
  stack = await startStack("money-guards");
  gwA = await stack.startGateway({ rateLimiter: generousRateLimiter() });
  gwB = await stack.startGateway({ rateLimiter: generousRateLimiter() });
  const gifts = (await stack.gql(`{ gifts { id slug coinCost } }`)).data.gifts as { id: string; slug: string; coinCost: number }[];
  rose = gifts.find((g) => g.slug === "rose")!;
  const live = await stack.gql(`mutation { startLiveSession(input: { title: "guards" }) { liveSession { id } userErrors { code } } }`, {}, await host(HOST));
  expect(live.data.startLiveSession.userErrors).toEqual([]);
});
afterAll(async () => {
  await gwA?.stop();
  await gwB?.stop();
  await stack?.stop();
});

describe("sendGift: the wallet's own per-user limit", () => {
  it("direct calls to the wallet (no gateway) past the burst answer RATE_LIMITED with HTTP 429 and Retry-After, and charge nothing", async () => {
    await fund("mg-direct", 1_000);
    const token = await viewer("mg-direct");
    const keys = Array.from({ length: SEND_BURST }, () => `mg-${randomUUID()}`);
    for (const k of keys) {
      const ok = await call(wallet(), SEND, { input: sendInput(k) }, { token });
      expect(ok.errors, JSON.stringify(ok.errors)).toBeUndefined();
      expect(ok.data.sendGift.userErrors).toEqual([]);
    }
    const before = await moneyOf("mg-direct");
    const refused = await call(wallet(), SEND, { input: sendInput() }, { token });
    expectRateLimited(refused, "sendGift", 60);
    expect(refused.data?.sendGift ?? null).toBeNull();
    expect(await moneyOf("mg-direct")).toEqual(before);
    expect(before).toMatchObject({ coins: 1_000 - SEND_BURST * rose.coinCost, gifts: SEND_BURST, giftEntries: SEND_BURST, keys: SEND_BURST });

    // A client retrying a send that succeeded gets its original answer, limit or not.
    const first = await call(wallet(), SEND, { input: sendInput(keys[0]) }, { token });
    const again = await call(wallet(), SEND, { input: sendInput(keys[0]) }, { token });
    expect(again.errors).toBeUndefined();
    expect(again.data.sendGift.giftEvent.id).toBe(first.data.sendGift.giftEvent.id);
    expect(await moneyOf("mg-direct")).toEqual(before);
  });

  it("two gateway instances and a direct call share one limit", async () => {
    await fund("mg-shared", 1_000);
    const token = await viewer("mg-shared");
    const paths = [gwA.url, gwB.url, wallet(), gwA.url, gwB.url];
    for (const url of paths) {
      const ok = await call(url, SEND, { input: sendInput() }, { token });
      expect(ok.errors, `${url}: ${JSON.stringify(ok.errors)}`).toBeUndefined();
    }
    // Each gateway alone has admitted only 2 (its own bucket would allow far more): the wallet refuses.
    expectRateLimited(await call(gwA.url, SEND, { input: sendInput() }, { token }), "sendGift", 60);
    expectRateLimited(await call(gwB.url, SEND, { input: sendInput() }, { token }), "sendGift", 60);
    expectRateLimited(await call(wallet(), SEND, { input: sendInput() }, { token }), "sendGift", 60);
    expect(await moneyOf("mg-shared")).toMatchObject({ gifts: SEND_BURST, coins: 1_000 - SEND_BURST * rose.coinCost });
  });

  it("40 concurrent sends with distinct keys over two gateways and the direct path: exactly the burst is sent and charged", async () => {
    await fund("mg-race", 1_000);
    const token = await viewer("mg-race");
    const paths = [gwA.url, gwB.url, wallet()];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => call(paths[i % 3], SEND, { input: sendInput() }, { token })));
    const sent = results.filter((r) => r.data?.sendGift?.giftEvent);
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === "RATE_LIMITED");
    expect(sent).toHaveLength(SEND_BURST);
    expect(limited).toHaveLength(40 - SEND_BURST);
    for (const r of limited) expect(r.status).toBe(429);
    expect(await moneyOf("mg-race")).toEqual({ coins: 1_000 - SEND_BURST * rose.coinCost, gifts: SEND_BURST, giftCoins: SEND_BURST * rose.coinCost, giftEntries: SEND_BURST, keys: SEND_BURST });
  });

  it("many concurrent duplicates of one key take one token: the original answer for all, and the rest of the burst stays", async () => {
    await fund("mg-dup", 1_000);
    const token = await viewer("mg-dup");
    const input = sendInput();
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(i % 2 ? gwA.url : wallet(), SEND, { input }, { token })));
    expect(new Set(results.map((r) => r.data?.sendGift?.giftEvent?.id)).size).toBe(1);
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    for (let i = 1; i < SEND_BURST; i++) expect((await call(wallet(), SEND, { input: sendInput() }, { token })).errors).toBeUndefined();
    expectRateLimited(await call(wallet(), SEND, { input: sendInput() }, { token }), "sendGift", 60);
  });
});

describe("recharge and confirmRecharge: the wallet's own per-user limit", () => {
  it("concurrent direct recharges past the burst are RATE_LIMITED and never reach the payment provider", async () => {
    const token = await viewer("mg-buyer");
    const before = sandbox().stats.paymentsCreated;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => call(wallet(), RECHARGE, { input: { customCoins: 100 + i, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: `mg-r-${i}` } }, { token })),
    );
    const ok = results.filter((r) => r.data?.recharge?.order?.status === "SUCCEEDED");
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === "RATE_LIMITED");
    expect(ok).toHaveLength(3);
    expect(limited).toHaveLength(5);
    for (const r of limited) expectRateLimited(r, "recharge", 60);
    expect(sandbox().stats.paymentsCreated - before).toBe(3);
    const [{ n, coins }] = await stack.subgraphs.wallet.dataSource.query(
      `SELECT count(*)::int AS n, (SELECT coins::int FROM wallet.accounts WHERE user_id = $1) AS coins FROM wallet.recharge_orders WHERE user_id = $1`,
      ["mg-buyer"],
    );
    expect(n).toBe(3);
    const bought = results.filter((r) => r.data?.recharge?.order).map((r) => r.data.recharge.order.id);
    expect(bought).toHaveLength(3);
    expect(coins).toBeGreaterThanOrEqual(300);
    // A retry of a recharge that went through is answered with its order, through a gateway too.
    const i = results.findIndex((r) => r.data?.recharge?.order);
    const replay = await call(gwA.url, RECHARGE, { input: { customCoins: 100 + i, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: `mg-r-${i}` } }, { token });
    expect(replay.errors).toBeUndefined();
    expect(replay.data.recharge.order.id).toBe(results[i].data.recharge.order.id);
  });

  it("confirmRecharge past its burst is RATE_LIMITED; confirming an order already decided is still answered", async () => {
    const token = await viewer("mg-3ds");
    const orders: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await call(wallet(), RECHARGE, { input: { customCoins: 100, paymentMethod: { type: "CARD", token: "pm_card_3ds" }, idempotencyKey: `mg-3ds-${i}` } }, { token });
      expect(r.data.recharge.order.status).toBe("REQUIRES_ACTION");
      orders.push(r.data.recharge.order.id);
    }
    for (const id of orders.slice(0, 2)) expect((await call(gwB.url, CONFIRM, { id }, { token })).data.confirmRecharge.order.status).toBe("SUCCEEDED");
    expectRateLimited(await call(wallet(), CONFIRM, { id: orders[2] }, { token }), "confirmRecharge", 60);
    expect((await call(wallet(), `{ rechargeOrder(id: "${orders[2]}") { status } }`, {}, { token })).data.rechargeOrder.status).toBe("REQUIRES_ACTION");
    const again = await call(wallet(), CONFIRM, { id: orders[0] }, { token });
    expect(again.errors).toBeUndefined();
    expect(again.data.confirmRecharge.order.status).toBe("SUCCEEDED");
  });
});

describe("requestPayout: earnings' own per-user limit", () => {
  it("concurrent payout requests over two gateways and the direct path: exactly the burst is reserved, the rest RATE_LIMITED", async () => {
    const ds = stack.subgraphs.earnings.dataSource;
    const token = await host("mg-payee");
    // The host exists once they act as one; then 100,000 coins of gifts earn them 50,000 diamonds.
    expect((await stack.gql(`mutation { startLiveSession(input: { title: "payee" }) { userErrors { code } } }`, {}, token)).data.startLiveSession.userErrors).toEqual([]);
    await produce(ds, [giftSent({ hostId: "mg-payee", unitCost: 100_000, quantity: 1 })]);
    await stack.subgraphs.earnings.services.credits.drain();
    const [{ diamonds }] = await ds.query(`SELECT diamonds::int AS diamonds FROM earnings.creators WHERE id = 'mg-payee'`);
    expect(diamonds).toBe(50_000);
    const paths = [gwA.url, gwB.url, earnings()];
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => call(paths[i % 3], PAYOUT, { input: { diamonds: 10_000, idempotencyKey: `mg-p-${i}` } }, { token })));
    const reserved = results.filter((r) => r.data?.requestPayout?.payout);
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === "RATE_LIMITED");
    expect(reserved).toHaveLength(2);
    expect(limited).toHaveLength(4);
    for (const r of limited) expectRateLimited(r, "requestPayout", 60);
    const [{ left, payouts, keys }] = await ds.query(
      `SELECT (SELECT diamonds::int FROM earnings.creators WHERE id = $1) AS left,
              (SELECT count(*)::int FROM earnings.payouts WHERE creator_id = $1) AS payouts,
              (SELECT count(*)::int FROM earnings.idempotency_keys WHERE user_id = $1) AS keys`,
      ["mg-payee"],
    );
    expect({ left, payouts, keys }).toEqual({ left: 30_000, payouts: 2, keys: 2 });
  });
});
