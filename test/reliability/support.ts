import "reflect-metadata";
import { expect } from "vitest";
import { diamondRuleViolations } from "../earnings/support.js";
import { eventually } from "../support/eventually.js";
import { startStack, type Stack } from "../support/stack.js";

/**
 * The reliability suites' stack: test/support/stack.ts with every per-user money guard raised
 * (`generousLimits`), so a property run measures money correctness, not the rate limiter (which
 * test/hardening covers). Everything else is the production code path over real sockets.
 */
export const startReliabilityStack = (label: string): Promise<Stack> => startStack(label, { poolSize: 10, generousLimits: true });

export { tokenFor } from "../support/tokens.js";

/** A deterministic PRNG (mulberry32) for fault schedules, so a failing run is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `tasks` with at most `concurrency` in flight. */
export async function pool<T>(items: T[], concurrency: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i], i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

type Query = (sql: string, params?: unknown[]) => Promise<any[]>;

/**
 * Everything a mutation could have changed, as one comparable object: a bad input must leave
 * it identical. Counts and sums over every money table of every subgraph (and the catalog).
 */
export async function fingerprint(q: Query): Promise<Record<string, string>> {
  const one = async (sql: string) => JSON.stringify((await q(sql))[0]);
  const [wallet, ledger, orders, keys, gifts, events, creators, diamonds, payouts, eKeys, catalog, sessions, webhooks, limits] = await Promise.all([
    one(`SELECT count(*)::int AS n, coalesce(sum(coins),0)::text AS coins, coalesce(sum(debt),0)::text AS debt FROM wallet.accounts`),
    one(`SELECT count(*)::int AS n, coalesce(sum(amount),0)::text AS amount FROM wallet.ledger_entries`),
    one(`SELECT count(*)::int AS n, string_agg(status, ',' ORDER BY id) AS s FROM wallet.recharge_orders`),
    one(`SELECT count(*)::int AS n FROM wallet.idempotency_keys`),
    one(`SELECT count(*)::int AS n, coalesce(sum(coins),0)::text AS coins FROM wallet.gift_events`),
    one(`SELECT count(*)::int AS n FROM eventlog.events`),
    one(`SELECT count(*)::int AS n, coalesce(sum(diamonds),0)::text AS d, coalesce(sum(lifetime_diamonds),0)::text AS l FROM earnings.creators`),
    one(`SELECT count(*)::int AS n, coalesce(sum(amount),0)::text AS amount FROM earnings.diamond_ledger`),
    one(`SELECT count(*)::int AS n, string_agg(status, ',' ORDER BY id) AS s FROM earnings.payouts`),
    one(`SELECT count(*)::int AS n FROM earnings.idempotency_keys`),
    one(`SELECT count(*)::int AS n, string_agg(status || ':' || name, ',' ORDER BY id) AS s, (SELECT count(*)::int FROM catalog.gift_prices) AS prices FROM catalog.gifts`),
    one(`SELECT count(*)::int AS n, string_agg(status, ',' ORDER BY id) AS s FROM earnings.live_sessions`),
    one(`SELECT count(*)::int AS n FROM wallet.payment_webhook_events`),
    one(`SELECT count(*)::int AS n FROM wallet.spending_limits`),
  ]);
  return { wallet, ledger, orders, keys, gifts, events, creators, diamonds, payouts, eKeys, catalog, sessions, webhooks, limits };
}

export const SHARE_BPS = 5000;

export interface InvariantReport {
  coinsBought: number;
  bonus: number;
  held: number;
  spent: number;
  reversed: number;
  debtRepaid: number;
  debtOutstanding: number;
  giftEvents: number;
  diamondsCredited: number;
  hosts: number;
  accounts: number;
}

/**
 * The money invariants, straight from the tables of every subgraph (run after quiescence:
 * the earnings consumer drained). Each `expect` names what it proves.
 */
export async function checkMoneyInvariants(q: Query): Promise<InvariantReport> {
  const num = (v: unknown) => Number(v ?? 0);
  const [o] = await q(
    `SELECT coalesce(sum(coins),0)::bigint AS coins, coalesce(sum(bonus_coins),0)::bigint AS bonus, coalesce(sum(coins_reversed),0)::bigint AS reversed,
            coalesce(sum(debt_recorded),0)::bigint AS debt
       FROM wallet.recharge_orders WHERE status IN ('SUCCEEDED','REFUNDED','CHARGED_BACK')`,
  );
  const [a] = await q(`SELECT count(*)::int AS n, coalesce(sum(coins),0)::bigint AS coins, coalesce(sum(debt),0)::bigint AS debt, min(coins)::bigint AS min_coins, min(debt)::bigint AS min_debt FROM wallet.accounts`);
  const [g] = await q(`SELECT count(*)::int AS n, coalesce(sum(coins),0)::bigint AS coins FROM wallet.gift_events`);
  const [r] = await q(`SELECT coalesce(-sum(amount),0)::bigint AS repaid FROM wallet.ledger_entries WHERE type = 'DEBT_REPAID'`);
  const report: InvariantReport = {
    coinsBought: num(o.coins),
    bonus: num(o.bonus),
    held: num(a.coins),
    spent: num(g.coins),
    reversed: num(o.reversed),
    debtRepaid: num(r.repaid),
    debtOutstanding: num(a.debt),
    giftEvents: g.n,
    diamondsCredited: 0,
    hosts: 0,
    accounts: a.n,
  };
  // Coins: bought + bonus = held + spent + reversed (taken back at once, or later out of new coins as debt repaid).
  expect(report.coinsBought + report.bonus, "coins bought + bonus = held + spent + reversed").toBe(report.held + report.spent + report.reversed + report.debtRepaid);
  // Debt: what reversals could not take back, minus what new coins repaid.
  expect(report.debtOutstanding, "debt outstanding = debt recorded − debt repaid").toBe(num(o.debt) - report.debtRepaid);
  expect(num(a.min_coins ?? 0), "no negative coin balance").toBeGreaterThanOrEqual(0);
  expect(num(a.min_debt ?? 0), "no negative debt").toBeGreaterThanOrEqual(0);

  // Every account's balance and debt are the sums of its ledger entries.
  const drift = await q(
    `SELECT a.user_id, a.coins, a.debt, coalesce(l.amount,0) AS amount, coalesce(l.debt,0) AS ldebt
       FROM wallet.accounts a LEFT JOIN (SELECT user_id, sum(amount) AS amount, sum(debt_change) AS debt FROM wallet.ledger_entries GROUP BY user_id) l USING (user_id)
      WHERE a.coins <> coalesce(l.amount,0) OR a.debt <> coalesce(l.debt,0)`,
  );
  expect(drift, "balance = sum of ledger entries, per account").toEqual([]);
  // Each gift debited exactly once: one GIFT_SENT ledger entry per gift event, for its coins.
  const [gl] = await q(`SELECT count(*)::int AS n, coalesce(-sum(amount),0)::bigint AS coins FROM wallet.ledger_entries WHERE type = 'GIFT_SENT'`);
  expect({ n: gl.n, coins: num(gl.coins) }, "one GIFT_SENT entry per gift event").toEqual({ n: g.n, coins: report.spent });
  // Each order credited at most once, charged back at most once (partial refunds may write several REFUND entries).
  const twice = await q(
    `SELECT reference, type, count(*)::int AS n FROM wallet.ledger_entries WHERE type IN ('RECHARGE','BONUS','CHARGEBACK') GROUP BY reference, type HAVING count(*) > 1`,
  );
  expect(twice, "no order credited or charged back twice").toEqual([]);
  // Reversals (taken back + debt) of an order add up to what the order records, never more than it bought.
  const overReversed = await q(
    `SELECT o.id FROM wallet.recharge_orders o
       JOIN (SELECT reference, sum(-amount + debt_change) AS back FROM wallet.ledger_entries WHERE type IN ('REFUND','CHARGEBACK') GROUP BY reference) l ON l.reference = o.id::text
      WHERE l.back > o.coins + o.bonus_coins OR l.back <> o.refunded_coins`,
  );
  expect(overReversed, "reversed coins per order = refunded_coins ≤ coins + bonus").toEqual([]);
  const both = await q(`SELECT reference FROM wallet.ledger_entries WHERE type IN ('REFUND','CHARGEBACK') GROUP BY reference HAVING count(DISTINCT type) > 1`);
  expect(both, "no order both refunded and charged back").toEqual([]);
  const orderLedger = await q(
    `SELECT o.id FROM wallet.recharge_orders o
       LEFT JOIN (SELECT reference, sum(amount) FILTER (WHERE type IN ('RECHARGE','BONUS')) AS credited FROM wallet.ledger_entries GROUP BY reference) l ON l.reference = o.id::text
      WHERE coalesce(l.credited,0) <> CASE WHEN o.status IN ('SUCCEEDED','REFUNDED','CHARGED_BACK') THEN o.coins + o.bonus_coins ELSE 0 END`,
  );
  expect(orderLedger, "credited coins match each order's status").toEqual([]);

  // Earnings: every gift.sent event credited exactly once; per creator and share period, credited
  // diamonds = floor(Σ coins × share) (the remainder carried from gift to gift, never more).
  const [c] = await q(`SELECT count(*)::int AS n, count(DISTINCT gift_event_id)::int AS d, coalesce(sum(diamonds),0)::bigint AS diamonds FROM earnings.gift_credits`);
  expect(c.n, "one credit per gift event").toBe(g.n);
  expect(c.d, "no gift credited twice").toBe(c.n);
  const mismatch = await q(
    `SELECT w.id FROM wallet.gift_events w LEFT JOIN earnings.gift_credits e ON e.gift_event_id = w.id
      WHERE e.gift_event_id IS NULL OR e.coins <> w.coins OR e.host_id <> w.host_id OR e.sender_id <> w.sender_id
         OR e.diamonds < (e.coins * e.share_bps) / 10000 OR e.diamonds > (e.coins * e.share_bps + 9999) / 10000`,
  );
  expect(mismatch, "each credit has its gift's coins, host, sender and adds floor..ceil(coins × share) diamonds").toEqual([]);
  expect(await diamondRuleViolations(q), "credited diamonds = floor(Σ coins × share) per creator and share period; carry rows agree").toEqual([]);
  const perHost = await q(
    `SELECT cr.id, cr.diamonds::bigint AS diamonds, cr.lifetime_diamonds::bigint AS lifetime,
            coalesce((SELECT sum(diamonds) FROM earnings.gift_credits x WHERE x.host_id = cr.id),0)::bigint AS credited,
            coalesce((SELECT sum(w.coins)::bigint * ${SHARE_BPS} / 10000 FROM wallet.gift_events w WHERE w.host_id = cr.id),0)::bigint AS expected,
            coalesce((SELECT sum(diamonds) FROM earnings.payouts p WHERE p.creator_id = cr.id AND p.status IN ('REQUESTED','PROCESSING','PAID')),0)::bigint AS paid_out,
            coalesce((SELECT sum(amount) FROM earnings.diamond_ledger l WHERE l.creator_id = cr.id),0)::bigint AS ledger
       FROM earnings.creators cr`,
  );
  let credited = 0;
  for (const h of perHost) {
    const row = { id: h.id, lifetime: num(h.lifetime), diamonds: num(h.diamonds), ledger: num(h.ledger) };
    credited += num(h.credited);
    expect(row.lifetime, `${h.id}: lifetime diamonds = floor(Σ coins × share) over the wallet's gifts (one share period: the default)`).toBe(num(h.expected));
    expect(row.lifetime, `${h.id}: lifetime diamonds = Σ credits`).toBe(num(h.credited));
    expect(row.diamonds, `${h.id}: diamonds = lifetime − payouts not failed/canceled`).toBe(row.lifetime - num(h.paid_out));
    expect(row.ledger, `${h.id}: diamonds = sum of the diamond ledger`).toBe(row.diamonds);
    expect(row.diamonds, `${h.id}: no negative diamonds`).toBeGreaterThanOrEqual(0);
  }
  report.diamondsCredited = credited;
  report.hosts = perHost.length;
  // The live feed holds exactly the credited gifts, once each.
  const [f] = await q(
    `SELECT count(*)::int AS n, count(DISTINCT id)::int AS d, coalesce(sum(coins),0)::bigint AS coins,
            count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM earnings.gift_credits x WHERE x.gift_event_id::text = f.id))::int AS orphans
       FROM earnings.gift_feed f WHERE kind = 'gift'`,
  );
  expect({ n: f.n, d: f.d, coins: num(f.coins), orphans: f.orphans }, "feed: every credited gift once, nothing else").toEqual({ n: c.n, d: c.n, coins: report.spent, orphans: 0 });
  // Leaderboard aggregates equal a recomputation from the wallet's gifts (all-time scope).
  const board = await q(
    `SELECT coalesce(w.host_id, t.host_id) AS host, coalesce(w.sender_id, t.sender_id) AS sender, w.coins AS wc, t.coins AS tc, w.gifts AS wg, t.gifts AS tg
       FROM (SELECT host_id, sender_id, sum(coins) AS coins, sum(quantity) AS gifts FROM wallet.gift_events GROUP BY 1, 2) w
       FULL JOIN (SELECT host_id, sender_id, coins, gifts FROM earnings.gifter_totals WHERE scope = 'ALL') t ON t.host_id = w.host_id AND t.sender_id = w.sender_id
      WHERE w.coins IS DISTINCT FROM t.coins OR w.gifts IS DISTINCT FROM t.gifts`,
  );
  expect(board, "leaderboard totals = recomputation from the wallet's gift events").toEqual([]);
  return report;
}

/** The leaderboard as the API serves it equals the recomputation from the wallet's gift events. */
export async function checkLeaderboardsThroughApi(stack: Stack, hostIds: string[]): Promise<number> {
  const q = (sql: string, p: unknown[]) => stack.subgraphs.wallet.dataSource.query(sql, p);
  let checked = 0;
  for (const host of hostIds) {
    const res = await stack.gql(`query($id: ID!) { creator(id: $id) { topGifters(first: 100, period: ALL_TIME) { rank sender { id } coins gifts } } }`, { id: host });
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    const served = (res.data.creator?.topGifters ?? []) as { rank: number; sender: { id: string }; coins: number; gifts: number }[];
    const expected: { sender_id: string; coins: string; gifts: string }[] = await q(
      `SELECT sender_id, sum(coins)::bigint AS coins, sum(quantity)::bigint AS gifts FROM wallet.gift_events WHERE host_id = $1 GROUP BY sender_id ORDER BY sum(coins) DESC LIMIT 100`,
      [host],
    );
    expect(served.map((s) => s.rank)).toEqual(served.map((_, i) => i + 1));
    // Order: coins descending (ties broken by who got there first, which SQL here cannot recompute).
    for (let i = 1; i < served.length; i++) expect(served[i - 1].coins).toBeGreaterThanOrEqual(served[i].coins);
    const norm = (xs: { id: string; coins: number; gifts: number }[]) => xs.sort((x, y) => x.id.localeCompare(y.id));
    expect(norm(served.map((s) => ({ id: s.sender.id, coins: s.coins, gifts: s.gifts }))), `leaderboard of ${host}`).toEqual(
      norm(expected.map((e) => ({ id: e.sender_id, coins: Number(e.coins), gifts: Number(e.gifts) }))),
    );
    checked++;
  }
  return checked;
}

/** Figures of the latest run, for docs/reliability.md (written under .data/, never committed). */
export async function recordFigures(name: string, figures: Record<string, unknown>): Promise<void> {
  const { mkdirSync, writeFileSync } = await import("node:fs");
  mkdirSync(".data/reliability", { recursive: true });
  writeFileSync(`.data/reliability/${name}.json`, JSON.stringify({ at: new Date().toISOString(), ...figures }, null, 2));
  // The console gets the figures without per-case lists (those are in the file).
  console.log(`[reliability] ${name}: ${JSON.stringify(figures, (k, v) => (k === "results" ? `${(v as unknown[]).length} entries in .data/reliability/${name}.json` : v))}`);
}

/**
 * Waits until the earnings consumer has applied every gift.sent event committed so far.
 * `credits.drain()` alone is not a barrier: it returns 0 at once while the background
 * consumer holds the batch lock, so this compares the event log with the credits.
 */
export async function settleEarnings(stack: Stack, timeoutMs = 30_000): Promise<void> {
  const q = (sql: string) => stack.subgraphs.earnings.dataSource.query(sql);
  await eventually(async () => {
    await stack.subgraphs.earnings.services.credits.drain();
    const [r] = await q(
      `SELECT (SELECT count(*) FROM eventlog.events WHERE type = 'gift.sent')::int AS events,
              ((SELECT count(*) FROM earnings.gift_credits) + (SELECT count(*) FROM earnings.rejected_events))::int AS applied`,
    );
    if (r.applied < r.events) throw new Error(`earnings consumer did not catch up: ${r.applied}/${r.events} events applied`);
  }, timeoutMs);
}
