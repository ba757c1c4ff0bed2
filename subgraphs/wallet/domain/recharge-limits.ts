import type { EntityManager } from "typeorm";
import { DomainError, ErrorCode } from "../../../platform/errors.js";
import { formatMoney, priceForCoins } from "../../../platform/money.js";

/** Platform velocity limits (anti-fraud / card testing). Mutable at runtime for operators and tests. */
export interface VelocityLimits {
  /** Orders created per rolling hour, declined ones included: declines are what card testing looks like. */
  maxOrdersPerHour: number;
  /** Coins ordered per rolling 24 h (failed orders excluded). */
  maxCoinsPerDay: number;
}

export const DEFAULT_VELOCITY: VelocityLimits = { maxOrdersPerHour: 10, maxCoinsPerDay: 5_000_000 };

export type LimitPeriod = "DAY" | "WEEK" | "MONTH";
/** Rolling windows: no time-zone ambiguity, and the retry time is exact. */
export const PERIOD_SECONDS: Record<LimitPeriod, number> = { DAY: 86_400, WEEK: 7 * 86_400, MONTH: 30 * 86_400 };
const PERIOD_ADJECTIVE: Record<LimitPeriod, string> = { DAY: "daily", WEEK: "weekly", MONTH: "monthly" };
/** Raising or removing a spending limit takes effect after this cooling-off period; lowering is immediate. */
export const LIMIT_RAISE_DELAY_SECONDS = 86_400;

export interface SpendingLimitRow {
  period: LimitPeriod;
  amountMinor: number;
  currency: string;
}

export interface SpendingLimitState {
  current: SpendingLimitRow | null;
  pending: { limit: SpendingLimitRow | null; effectiveAt: Date } | null;
}

/** Orders that count towards limits: everything but FAILED (a refund does not give the room back). */
const COUNTED = `status <> 'FAILED'`;

export interface OrderForLimits {
  coins: number;
  amountMinor: number;
  currency: string;
}

/** Loads the user's limit, applying a pending change whose cooling-off period has passed. */
export async function loadSpendingLimit(m: EntityManager, userId: string, now = new Date()): Promise<SpendingLimitState> {
  const [row] = await m.query(`SELECT * FROM wallet.spending_limits WHERE user_id = $1`, [userId]);
  if (!row) return { current: null, pending: null };
  const current: SpendingLimitRow | null = row.period ? { period: row.period, amountMinor: Number(row.amount_minor), currency: row.currency.trim() } : null;
  if (!row.pending_effective_at) return { current, pending: null };
  const pendingLimit: SpendingLimitRow | null = row.pending_remove
    ? null
    : { period: row.pending_period, amountMinor: Number(row.pending_amount_minor), currency: row.pending_currency.trim() };
  const effectiveAt = new Date(row.pending_effective_at);
  if (effectiveAt <= now) return { current: pendingLimit, pending: null };
  return { current, pending: { limit: pendingLimit, effectiveAt } };
}

/** A new limit is "tighter" when it allows no more money over a window at least as long. */
export function isTightening(current: SpendingLimitRow | null, next: SpendingLimitRow | null): boolean {
  if (next === null) return current === null;
  if (current === null) return true;
  if (current.currency !== next.currency) return false;
  return next.amountMinor <= current.amountMinor && PERIOD_SECONDS[next.period] >= PERIOD_SECONDS[current.period];
}

interface Priced {
  coins: number;
  amount_minor: string;
  currency: string;
  created_at: Date;
}

/**
 * Seconds until enough of the oldest counted items leave the window for `need` more to fit under `max`;
 * null when it can never fit.
 */
function retryAfter(items: { value: number; at: Date }[], used: number, need: number, max: number, windowSeconds: number, now: Date): number | null {
  if (need > max) return null;
  let u = used;
  for (const it of items) {
    u -= it.value;
    if (u + need <= max) return Math.max(1, Math.ceil((it.at.getTime() + windowSeconds * 1000 - now.getTime()) / 1000));
  }
  return null;
}

/**
 * Checks velocity and the user's spending limit for a new order. Must run in the transaction that
 * inserts the order, under the per-user lock, so concurrent orders cannot both squeeze under a limit.
 */
export async function enforceLimits(
  m: EntityManager,
  userId: string,
  order: OrderForLimits,
  velocity: VelocityLimits,
  rateFor: (currency: string) => Promise<{ numerator: number; denominator: number } | null>,
  now = new Date(),
): Promise<void> {
  // Velocity: orders per hour.
  const hourly: { created_at: Date }[] = await m.query(
    `SELECT created_at FROM wallet.recharge_orders WHERE user_id = $1 AND created_at > $2 ORDER BY created_at`,
    [userId, new Date(now.getTime() - 3600_000)],
  );
  if (hourly.length >= velocity.maxOrdersPerHour) {
    const oldest = hourly[hourly.length - velocity.maxOrdersPerHour];
    const secs = Math.max(1, Math.ceil((new Date(oldest.created_at).getTime() + 3600_000 - now.getTime()) / 1000));
    throw new DomainError(ErrorCode.RATE_LIMITED, `too many recharge attempts: at most ${velocity.maxOrdersPerHour} an hour`, { retryAfterSeconds: secs });
  }

  // Velocity: coins per day.
  const daily: Priced[] = await m.query(
    `SELECT coins, amount_minor, currency, created_at FROM wallet.recharge_orders
      WHERE user_id = $1 AND created_at > $2 AND ${COUNTED} ORDER BY created_at`,
    [userId, new Date(now.getTime() - 86_400_000)],
  );
  const dailyCoins = daily.reduce((s, o) => s + Number(o.coins), 0);
  if (dailyCoins + order.coins > velocity.maxCoinsPerDay) {
    const secs = retryAfter(daily.map((o) => ({ value: Number(o.coins), at: new Date(o.created_at) })), dailyCoins, order.coins, velocity.maxCoinsPerDay, 86_400, now);
    throw new DomainError(ErrorCode.LIMIT_EXCEEDED, `daily purchase limit: at most ${velocity.maxCoinsPerDay} coins in 24 hours`, {
      field: ["input"],
      ...(secs !== null ? { retryAfterSeconds: secs } : {}),
    });
  }

  // The user's own spending limit.
  const { current: limit } = await loadSpendingLimit(m, userId, now);
  if (!limit) return;
  const window = PERIOD_SECONDS[limit.period];
  const rows: Priced[] = await m.query(
    `SELECT coins, amount_minor, currency, created_at FROM wallet.recharge_orders
      WHERE user_id = $1 AND created_at > $2 AND ${COUNTED} ORDER BY created_at`,
    [userId, new Date(now.getTime() - window * 1000)],
  );
  const rate = await rateFor(limit.currency);
  // Orders in another currency (the user moved region) count at the limit currency's per-coin price.
  const inLimitCurrency = (o: { coins: number; amountMinor: number; currency: string }) =>
    o.currency === limit.currency ? o.amountMinor : rate ? priceForCoins(o.coins, rate.numerator, rate.denominator) : o.amountMinor;
  const items = rows.map((o) => ({ value: inLimitCurrency({ coins: Number(o.coins), amountMinor: Number(o.amount_minor), currency: o.currency.trim() }), at: new Date(o.created_at) }));
  const spent = items.reduce((s, i) => s + i.value, 0);
  const cost = inLimitCurrency(order);
  if (spent + cost > limit.amountMinor) {
    const secs = retryAfter(items, spent, cost, limit.amountMinor, window, now);
    const remaining = Math.max(0, limit.amountMinor - spent);
    throw new DomainError(
      ErrorCode.LIMIT_EXCEEDED,
      `your ${PERIOD_ADJECTIVE[limit.period]} spending limit of ${formatMoney(limit.amountMinor, limit.currency)} allows ${formatMoney(remaining, limit.currency)} more`,
      { field: ["input"], ...(secs !== null ? { retryAfterSeconds: secs } : {}) },
    );
  }
}

/** Money counted against the limit in its current window (for display). */
export async function spentInWindow(
  m: EntityManager,
  userId: string,
  limit: SpendingLimitRow,
  rate: { numerator: number; denominator: number } | null,
  now = new Date(),
): Promise<number> {
  const rows: Priced[] = await m.query(
    `SELECT coins, amount_minor, currency, created_at FROM wallet.recharge_orders WHERE user_id = $1 AND created_at > $2 AND ${COUNTED}`,
    [userId, new Date(now.getTime() - PERIOD_SECONDS[limit.period] * 1000)],
  );
  return rows.reduce(
    (s, o) => s + (o.currency.trim() === limit.currency ? Number(o.amount_minor) : rate ? priceForCoins(Number(o.coins), rate.numerator, rate.denominator) : Number(o.amount_minor)),
    0,
  );
}
