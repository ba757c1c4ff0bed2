import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SandboxPaymentProvider } from "../../subgraphs/wallet/domain/payments/sandbox.js";
import type { Stack } from "../support/stack.js";
import { diamondRuleViolations } from "../earnings/support.js";
import { checkLeaderboardsThroughApi, checkMoneyInvariants, pool, recordFigures, settleEarnings, startReliabilityStack, tokenFor } from "./support.js";

/**
 * The money invariant, property-based: fast-check generates a random mix of recharges (every
 * sandbox outcome, 3-D Secure confirms, async webhooks), gift sends, retries with the same
 * keys, refunds, chargebacks and payouts across 50 viewers and 10 hosts; they run through
 * the gateway at concurrency 20; after quiescence every invariant is checked from the tables
 * of every subgraph and against what the clients were told.
 *
 * Diamonds: each gift is credited exactly once, and per creator and share period credited
 * diamonds = floor(Σ coins × share) — the remainder is carried from gift to gift, so a 1-coin
 * Rose at 50% is not lost, and never more is paid. That rule is also checked while the mix runs
 * (every `process` op, with sends and credits in flight), not only at quiescence.
 *
 * Seeded and reproducible: the seed is printed; rerun with RELIABILITY_SEED=<seed>.
 * CI runs a short property (3 runs); `npm run test:soak` (SOAK=1) a long one.
 */
const SOAK = process.env.SOAK === "1";
const SEED = process.env.RELIABILITY_SEED ? Number(process.env.RELIABILITY_SEED) : Date.now() % 2 ** 31;
const RUNS = Number(process.env.RELIABILITY_RUNS ?? (SOAK ? 12 : 3));
const OPS = Number(process.env.RELIABILITY_OPS ?? (SOAK ? 600 : 120));
const CONCURRENCY = 20;
const USERS = 50;
const HOSTS = 10;

const TOKENS = ["pm_card_ok", "pm_card_declined_insufficient_funds", "pm_card_declined_stolen", "pm_card_expired", "pm_card_3ds", "pm_async_ok", "pm_async_fail"] as const;
const PACKAGES = [70, 350, 700, 1400, 3500, 7000];
const GIFT_SLUGS = ["rose", "perfume", "confetti", "money-gun", "galaxy", "private-jet", "sports-car", "interstellar"];

type Op =
  | { t: "recharge"; u: number; pkg: number | null; custom: number; pm: (typeof TOKENS)[number]; retry: boolean }
  | { t: "confirm"; pick: number; twice: boolean }
  | { t: "settle"; pick: number; dup: boolean }
  | { t: "send"; u: number; funded: boolean; h: number; g: number; qty: number; live: boolean; retry: "none" | "same" | "different" }
  | { t: "refund"; pick: number; twice: boolean }
  | { t: "chargeback"; pick: number; dup: boolean }
  | { t: "payout"; h: number; extra: number; retry: boolean }
  | { t: "process" };

// Biased to the first 20 viewers (both buying and sending), so sends mostly meet a funded wallet; all 50 take part.
const user = fc.oneof(fc.nat(19), fc.nat(USERS - 1));
// Every sandbox outcome, weighted towards success so enough coins flow to exercise sends and payouts.
const paymentMethod = fc.oneof(
  { weight: 6, arbitrary: fc.constant("pm_card_ok" as const) },
  { weight: 2, arbitrary: fc.constant("pm_card_3ds" as const) },
  { weight: 2, arbitrary: fc.constant("pm_async_ok" as const) },
  { weight: 1, arbitrary: fc.constantFrom("pm_card_declined_insufficient_funds" as const, "pm_card_declined_stolen" as const, "pm_card_expired" as const, "pm_async_fail" as const) },
);
// Biased to the first three hosts so some of them earn enough to cash out in a short run.
const host = fc.oneof(fc.nat(2), fc.nat(HOSTS - 1));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 25, arbitrary: fc.record({ t: fc.constant("recharge" as const), u: user, pkg: fc.option(fc.constantFrom(...PACKAGES), { nil: null }), custom: fc.integer({ min: 30, max: 120_000 }), pm: paymentMethod, retry: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant("confirm" as const), pick: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), twice: fc.boolean() }) },
  { weight: 6, arbitrary: fc.record({ t: fc.constant("settle" as const), pick: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), dup: fc.boolean() }) },
  { weight: 45, arbitrary: fc.record({ t: fc.constant("send" as const), u: user, funded: fc.boolean(), h: host, g: fc.nat(GIFT_SLUGS.length - 1), qty: fc.integer({ min: 1, max: 3 }), live: fc.boolean(), retry: fc.constantFrom("none" as const, "same" as const, "different" as const) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("refund" as const), pick: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), twice: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("chargeback" as const), pick: fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), dup: fc.boolean() }) },
  { weight: 8, arbitrary: fc.record({ t: fc.constant("payout" as const), h: fc.nat(2), extra: fc.oneof(fc.integer({ min: 0, max: 500 }), fc.constant(13)), retry: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant("process" as const) }) },
);

const ORDER = `id status coins bonusCoins`;
const RECHARGE = `mutation($input: RechargeInput!) { recharge(input: $input) { order { ${ORDER} } userErrors { code message } } }`;
const CONFIRM = `mutation($id: ID!) { confirmRecharge(orderId: $id) { order { ${ORDER} } userErrors { code message } } }`;
const REFUND = `mutation($id: ID!) { refundRecharge(orderId: $id, reason: "property test") { order { ${ORDER} } userErrors { code message } } }`;
const SEND = `mutation($input: SendGiftInput!) { sendGift(input: $input) { giftEvent { id coins gift { name } } userErrors { code message } } }`;
const PAYOUT = `mutation($input: RequestPayoutInput!) { requestPayout(input: $input) { payout { id diamonds status } userErrors { code message } } }`;
const PROCESS = `mutation { processPayouts(input: { limit: 1000 }) { payouts { id status } userErrors { code } } }`;

interface Order {
  id: string;
  userIdx: number;
  status: string;
}

let stack: Stack;
let sandbox: SandboxPaymentProvider;
const userIds = Array.from({ length: USERS }, (_, i) => `rel-viewer-${i}`);
const hostIds = Array.from({ length: HOSTS }, (_, i) => `rel-host-${i}`);
const userTokens: string[] = [];
const hostTokens: string[] = [];
const sessions: string[] = [];
let adminToken: string;
const gifts: { id: string; cost: number }[] = [];

/** What the clients were told, across all runs: the model the tables are checked against. */
const orders = new Map<string, Order>();
const rechargeKeys = new Map<string, string>();
const sendKeys = new Map<string, { id: string; coins: number }>();
const payoutKeys = new Map<string, string>();
const outcomes: Record<string, number> = {};
const unexpected: string[] = [];
let operations = 0;
let requests = 0;

const tally = (k: string) => (outcomes[k] = (outcomes[k] ?? 0) + 1);

async function gql(query: string, variables: Record<string, unknown>, token: string, what: string): Promise<any> {
  requests++;
  const res = await stack.gql(query, variables, token);
  if (res.errors) {
    unexpected.push(`${what}: GraphQL errors ${JSON.stringify(res.errors)}`);
    return null;
  }
  return res.data;
}

function payloadOf(data: any, field: string, allowed: string[], what: string): any | null {
  const p = data?.[field];
  if (!p) return null;
  for (const e of p.userErrors) {
    tally(`${field}:${e.code}`);
    if (!allowed.includes(e.code)) unexpected.push(`${what}: unexpected userError ${e.code} ${e.message}`);
  }
  return p.userErrors.length ? null : p;
}

function pickOrder(pick: number, status: string): Order | null {
  const list = [...orders.values()].filter((o) => o.status === status);
  return list.length ? list[Math.floor(pick * list.length)] : null;
}

const paymentIdOf = async (orderId: string): Promise<string | null> =>
  (await stack.subgraphs.wallet.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [orderId]))[0]?.provider_payment_id ?? null;

async function refreshOrder(id: string): Promise<void> {
  const [o] = await stack.subgraphs.wallet.dataSource.query(`SELECT status FROM wallet.recharge_orders WHERE id = $1`, [id]);
  const known = orders.get(id);
  if (known && o) known.status = o.status;
}

function noteOrder(key: string, u: number, order: { id: string; status: string }, what: string): void {
  const before = rechargeKeys.get(key);
  if (before && before !== order.id) unexpected.push(`${what}: key ${key} returned two orders ${before} and ${order.id}`);
  rechargeKeys.set(key, order.id);
  const known = orders.get(order.id);
  if (known && known.userIdx !== u) unexpected.push(`${what}: order ${order.id} returned to two users`);
  if (!known) orders.set(order.id, { id: order.id, userIdx: u, status: order.status });
}

async function run(op: Op): Promise<void> {
  operations++;
  tally(op.t);
  switch (op.t) {
    case "recharge": {
      const key = `rc-${randomUUID()}`;
      const input = {
        ...(op.pkg ? { packageId: `pkg_US_${op.pkg}` } : { customCoins: op.custom }),
        paymentMethod: { type: "CARD", token: op.pm },
        idempotencyKey: key,
      };
      const calls = op.retry ? 2 : 1;
      const results = await Promise.all(Array.from({ length: calls }, () => gql(RECHARGE, { input }, userTokens[op.u], `recharge ${op.pm}`)));
      for (const data of results) {
        // A declined or failed payment still returns its (FAILED) order, with the reason as a userError.
        payloadOf(data, "recharge", ["PAYMENT_DECLINED", "PAYMENT_FAILED"], `recharge ${op.pm}`);
        const order = data?.recharge?.order;
        if (order) noteOrder(key, op.u, order, `recharge ${op.pm}`);
        else if (data) unexpected.push(`recharge ${op.pm}: no order ${JSON.stringify(data)}`);
      }
      const id = rechargeKeys.get(key);
      if (id) await refreshOrder(id);
      break;
    }
    case "confirm": {
      const o = pickOrder(op.pick, "REQUIRES_ACTION");
      if (!o) return;
      const results = await Promise.all(Array.from({ length: op.twice ? 2 : 1 }, () => gql(CONFIRM, { id: o.id }, userTokens[o.userIdx], "confirm")));
      for (const data of results) {
        const p = payloadOf(data, "confirmRecharge", [], "confirm");
        if (p && p.order.status !== "SUCCEEDED") unexpected.push(`confirm: ${o.id} is ${p.order.status}`);
      }
      await refreshOrder(o.id);
      break;
    }
    case "settle": {
      const o = pickOrder(op.pick, "PENDING");
      if (!o) return;
      const paymentId = await paymentIdOf(o.id);
      if (!paymentId) return;
      // The provider's asynchronous outcome arrives as a signed webhook over HTTP; `dup` re-delivers it (providers do).
      const event = await sandbox.settle(paymentId);
      if (event && op.dup) await sandbox.deliver(event);
      await refreshOrder(o.id);
      break;
    }
    case "send": {
      const g = gifts[op.g];
      if (op.funded) {
        // Like an app that shows the balance: a sender who can afford the gift (INSUFFICIENT_COINS races remain possible).
        const rich: { user_id: string }[] = await stack.subgraphs.wallet.dataSource.query(
          `SELECT user_id FROM wallet.accounts WHERE user_id LIKE 'rel-viewer-%' AND coins >= $1 AND debt = 0 ORDER BY user_id`,
          [g.cost * op.qty],
        );
        if (rich.length) op = { ...op, u: userIds.indexOf(rich[op.u % rich.length].user_id) };
      }
      const key = `sg-${randomUUID()}`;
      const input = {
        giftId: g.id,
        hostId: hostIds[op.h],
        ...(op.live ? { liveSessionId: sessions[op.h] } : {}),
        quantity: op.qty,
        expectedUnitCost: g.cost,
        idempotencyKey: key,
      };
      const allowed = ["INSUFFICIENT_COINS", "IN_DEBT"];
      const calls = op.retry === "same" ? [input, input] : [input];
      const results = await Promise.all(calls.map((i) => gql(SEND, { input: i }, userTokens[op.u], "sendGift")));
      for (const data of results) {
        const p = payloadOf(data, "sendGift", allowed, "sendGift");
        if (!p) continue;
        const ev = p.giftEvent;
        if (ev.coins !== g.cost * op.qty) unexpected.push(`sendGift: ${ev.id} cost ${ev.coins}, expected ${g.cost * op.qty}`);
        const before = sendKeys.get(key);
        if (before && before.id !== ev.id) unexpected.push(`sendGift: key ${key} sent twice (${before.id}, ${ev.id})`);
        sendKeys.set(key, { id: ev.id, coins: ev.coins });
      }
      if (op.retry === "different" && sendKeys.has(key)) {
        // Same key, different input: refused, nothing sent.
        const data = await gql(SEND, { input: { ...input, quantity: op.qty + 1 } }, userTokens[op.u], "sendGift reuse");
        const errs = data?.sendGift?.userErrors ?? [];
        tally(`sendGift:${errs[0]?.code ?? "OK"}`);
        if (errs[0]?.code !== "IDEMPOTENCY_KEY_REUSED") unexpected.push(`sendGift reuse: expected IDEMPOTENCY_KEY_REUSED, got ${JSON.stringify(data)}`);
      }
      break;
    }
    case "refund": {
      const o = pickOrder(op.pick, "SUCCEEDED");
      if (!o) return;
      const results = await Promise.all(Array.from({ length: op.twice ? 2 : 1 }, () => gql(REFUND, { id: o.id }, adminToken, "refund")));
      // INVALID_STATE: a chargeback got there first (another op); the order is not SUCCEEDED any more.
      for (const data of results) payloadOf(data, "refundRecharge", ["INVALID_STATE"], "refund");
      await refreshOrder(o.id);
      break;
    }
    case "chargeback": {
      const o = pickOrder(op.pick, "SUCCEEDED");
      if (!o) return;
      const paymentId = await paymentIdOf(o.id);
      if (!paymentId) return;
      const event = await sandbox.chargeback(paymentId);
      if (op.dup) await sandbox.deliver(event);
      await refreshOrder(o.id);
      break;
    }
    case "payout": {
      const key = `po-${randomUUID()}`;
      // 10,026 diamonds = $50.13: the sandbox payout provider fails amounts ending in .13 (diamonds must come back).
      const diamonds = op.extra === 13 ? 10_026 : 10_000 + 2 * op.extra;
      const input = { diamonds, idempotencyKey: key };
      const results = await Promise.all(Array.from({ length: op.retry ? 2 : 1 }, () => gql(PAYOUT, { input }, hostTokens[op.h], "requestPayout")));
      for (const data of results) {
        const p = payloadOf(data, "requestPayout", ["INSUFFICIENT_DIAMONDS"], "requestPayout");
        if (!p) continue;
        const before = payoutKeys.get(key);
        if (before && before !== p.payout.id) unexpected.push(`requestPayout: key ${key} created two payouts`);
        payoutKeys.set(key, p.payout.id);
      }
      break;
    }
    case "process": {
      // Credit first so hosts have diamonds to cash out, as the consumer would on its own.
      await settleEarnings(stack);
      // The diamonds rule holds at every moment, not only at quiescence: sends and credits are in flight here.
      const broken = await diamondRuleViolations((sql, p) => stack.subgraphs.earnings.dataSource.query(sql, p));
      if (broken.length) unexpected.push(`diamonds rule broken mid-run: ${broken.join("; ")}`);
      const data = await gql(PROCESS, {}, adminToken, "processPayouts");
      payloadOf(data, "processPayouts", [], "processPayouts");
      break;
    }
  }
}

/** Quiescence: every async payment settles, every payout is processed, the consumer has applied every gift. */
async function quiesce(): Promise<void> {
  for (const o of [...orders.values()].filter((x) => x.status === "PENDING" || x.status === "PROCESSING")) {
    const paymentId = await paymentIdOf(o.id);
    if (paymentId) await sandbox.settle(paymentId);
    await refreshOrder(o.id);
  }
  await settleEarnings(stack);
  await gql(PROCESS, {}, adminToken, "processPayouts");
  await settleEarnings(stack);
}

/** What the clients were told must match the tables: every success exactly once, nothing else. */
async function checkAgainstModel(): Promise<void> {
  const q = (sql: string, p: unknown[] = []) => stack.subgraphs.wallet.dataSource.query(sql, p);
  const [g] = await q(`SELECT count(*)::int AS n, coalesce(sum(coins),0)::bigint AS coins FROM wallet.gift_events WHERE sender_id LIKE 'rel-viewer-%'`);
  const sent = [...sendKeys.values()];
  expect(g.n, "gift events = successful send keys (each key applied once)").toBe(sent.length);
  expect(Number(g.coins), "coins spent = Σ coins the senders were told").toBe(sent.reduce((s, x) => s + x.coins, 0));
  const ids = await q(`SELECT id::text FROM wallet.gift_events WHERE id = ANY($1::uuid[])`, [sent.map((s) => s.id)]);
  expect(ids.length, "every gift event a sender was given exists").toBe(sent.length);
  const [o] = await q(`SELECT count(*)::int AS n FROM wallet.recharge_orders WHERE user_id LIKE 'rel-viewer-%'`);
  expect(o.n, "one order per recharge key").toBe(new Set(rechargeKeys.values()).size);
  expect(new Set(rechargeKeys.values()).size, "no two keys share an order").toBe(rechargeKeys.size);
  const [p] = await q(`SELECT count(*)::int AS n FROM earnings.payouts`);
  expect(p.n, "one payout per successful payout key").toBe(payoutKeys.size);
  // Every balance a viewer sees through the API is the table's.
  for (const i of [0, 1, USERS - 1]) {
    const res = await stack.gql(`{ me { wallet { coins debt } } }`, {}, userTokens[i]);
    const [row] = await q(`SELECT coins, debt FROM wallet.accounts WHERE user_id = $1`, [userIds[i]]);
    expect(res.data.me.wallet).toEqual({ coins: Number(row?.coins ?? 0), debt: Number(row?.debt ?? 0) });
  }
}

beforeAll(async () => {
  stack = await startReliabilityStack("relinv");
  sandbox = stack.subgraphs.wallet.services.payments as SandboxPaymentProvider;
  adminToken = await tokenFor("rel-admin", { roles: ["viewer", "admin"] });
  for (const id of userIds) userTokens.push(await tokenFor(id));
  for (const id of hostIds) {
    const t = await tokenFor(id, { roles: ["viewer", "host"] });
    hostTokens.push(t);
    const res = await stack.gql(`mutation { startLiveSession(input: { title: "reliability" }) { liveSession { id } userErrors { code } } }`, {}, t);
    expect(res.errors).toBeUndefined();
    sessions.push(res.data.startLiveSession.liveSession.id);
  }
  const res = await stack.gql(`{ gifts { id slug coinCost } }`);
  const bySlug = new Map((res.data.gifts as { id: string; slug: string; coinCost: number }[]).map((x) => [x.slug, x]));
  for (const slug of GIFT_SLUGS) gifts.push({ id: bySlug.get(slug)!.id, cost: bySlug.get(slug)!.coinCost });
});

afterAll(async () => {
  await stack?.stop();
});

describe("money invariant under a random concurrent mix (property-based, seeded)", () => {
  it(`holds after ${RUNS} runs of ${OPS} operations at concurrency ${CONCURRENCY} (50 viewers, 10 hosts)`, async () => {
    console.log(`[reliability] invariant seed=${SEED} runs=${RUNS} ops=${OPS} (rerun: RELIABILITY_SEED=${SEED})`);
    let report: Awaited<ReturnType<typeof checkMoneyInvariants>> | undefined;
    const out = await fc.check(
      fc.asyncProperty(fc.array(opArb, { minLength: OPS, maxLength: OPS }), async (ops) => {
        await pool(ops, CONCURRENCY, run);
        await quiesce();
        expect(unexpected, "every response was one the contract allows").toEqual([]);
        report = await checkMoneyInvariants((sql, p) => stack.subgraphs.wallet.dataSource.query(sql, p));
        await checkAgainstModel();
      }),
      // Each run builds on the last one's database: shrinking would replay against a changed world, so stop at the first failure and report the seed.
      { seed: SEED, numRuns: RUNS, endOnFailure: true },
    );
    // The counterexample (hundreds of operations) is reproducible from the seed: report that, and the cause.
    if (out.failed) throw new Error(`property failed at run ${out.numRuns} (RELIABILITY_SEED=${SEED}): ${out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance)}`, { cause: out.errorInstance });
    const boards = await checkLeaderboardsThroughApi(stack, hostIds);
    const [statuses] = await stack.subgraphs.wallet.dataSource.query(
      `SELECT json_object_agg(status, n) AS s FROM (SELECT status, count(*)::int AS n FROM wallet.recharge_orders GROUP BY status) x`,
    );
    const [payouts] = await stack.subgraphs.wallet.dataSource.query(
      `SELECT json_object_agg(status, n) AS s FROM (SELECT status, count(*)::int AS n FROM earnings.payouts GROUP BY status) x`,
    );
    // The run must have exercised the paths it claims to (a property over nothing proves nothing).
    expect(report!.giftEvents).toBeGreaterThan(0);
    expect(Object.keys(statuses.s ?? {})).toEqual(expect.arrayContaining(["SUCCEEDED", "FAILED"]));
    await recordFigures(SOAK ? "invariant-soak" : "invariant", {
      seed: SEED,
      runs: RUNS,
      operationsGenerated: operations,
      requests,
      concurrency: CONCURRENCY,
      outcomes,
      orderStatuses: statuses.s,
      payoutStatuses: payouts.s,
      leaderboardsChecked: boards,
      invariants: report,
      lost: 0,
      doubled: 0,
    });
  }, SOAK ? 1_800_000 : 240_000);
});
