/**
 * Pure rules for turning coins into diamonds and for leaderboard periods.
 * Everything is integer math: no floating point near money.
 */

/** Basis points: 10,000 = 100%. */
export const BPS = 10_000;
/** The platform's default revenue share: 50%. Per-creator overrides live in earnings.revenue_shares. */
export const DEFAULT_SHARE_BPS = 5_000;

function checkShare(shareBps: number): void {
  if (!Number.isInteger(shareBps) || shareBps < 0 || shareBps > BPS) throw new Error(`share must be 0..${BPS} bps, got ${shareBps}`);
}

/** floor(coins × share) for non-negative integers. */
export function diamondsFor(coins: number | bigint, shareBps: number): bigint {
  if (typeof coins === "number" && (!Number.isSafeInteger(coins) || coins < 0)) throw new Error(`coins must be a non-negative integer, got ${coins}`);
  if (typeof coins === "bigint" && coins < 0n) throw new Error(`coins must be non-negative, got ${coins}`);
  checkShare(shareBps);
  // BigInt: coins × bps can pass 2^53 (a period's running total, a very large gift).
  return (BigInt(coins) * BigInt(shareBps)) / BigInt(BPS);
}

/**
 * What a gift of `coins` adds to a share period that has received `coinsBefore` so far:
 * floor((before + coins) × share) − floor(before × share). The remainder a single gift cannot
 * pay (a 1-coin Rose at 50%) is carried, so the period's credited diamonds are always
 * floor(Σ coins × share) — never more, never less (docs/earnings.md, "The carry"). Between floor(coins × share)
 * and ceil(coins × share), which is what the database CHECKs on earnings.gift_credits.
 */
export function diamondsAdded(coinsBefore: bigint, coins: number, shareBps: number): number {
  if (!Number.isSafeInteger(coins) || coins < 0) throw new Error(`coins must be a non-negative integer, got ${coins}`);
  return Number(diamondsFor(coinsBefore + BigInt(coins), shareBps) - diamondsFor(coinsBefore, shareBps));
}

export interface ShareRow {
  effectiveFrom: Date;
  shareBps: number;
  /** effective_from exactly as stored (microseconds included), to key the period's carry row. */
  fromKey?: string;
}

/** A share period's key for the default share (in force before a creator's first override). */
export const DEFAULT_PERIOD_FROM = "-infinity";

/** The span in which one share is in force for a creator: a revenue_shares row, or the default before the first one. */
export interface SharePeriod {
  /** The row's effective_from as stored, or DEFAULT_PERIOD_FROM. */
  from: string;
  shareBps: number;
}

/** The share period in force at `at`: the latest override that started at or before it, else the default. `history` sorted ascending. */
export function periodAt(history: readonly ShareRow[], at: Date): SharePeriod {
  let period: SharePeriod = { from: DEFAULT_PERIOD_FROM, shareBps: DEFAULT_SHARE_BPS };
  for (const h of history) {
    if (h.effectiveFrom.getTime() <= at.getTime()) period = { from: h.fromKey ?? h.effectiveFrom.toISOString(), shareBps: h.shareBps };
    else break;
  }
  return period;
}

/** The share in force at `at` (see periodAt). */
export function shareAt(history: readonly ShareRow[], at: Date): number {
  return periodAt(history, at).shareBps;
}

export type LeaderboardPeriod = "LIVE_SESSION" | "DAY" | "WEEK" | "MONTH" | "ALL_TIME";

const day = (d: Date) => d.toISOString().slice(0, 10);

/** Start (UTC) of the ISO week (Monday) containing `d`. */
export function weekStart(d: Date): Date {
  const midnight = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
  const dow = (d.getUTCDay() + 6) % 7; // Monday = 0
  return new Date(midnight - dow * 86_400_000);
}

/** The calendar scopes (UTC) a gift sent at `at` counts towards; the session scope is added by the caller. */
export function calendarScopes(at: Date): string[] {
  return ["ALL", `D:${day(at)}`, `W:${day(weekStart(at))}`, `M:${day(at).slice(0, 7)}`];
}

/** The scope a leaderboard query reads: the current day/week/month (UTC), all time, or a session. */
export function scopeFor(period: Exclude<LeaderboardPeriod, "LIVE_SESSION">, now: Date): string {
  const [all, d, w, m] = calendarScopes(now);
  return period === "ALL_TIME" ? all : period === "DAY" ? d : period === "WEEK" ? w : m;
}

export const sessionScope = (liveSessionId: string) => `S:${liveSessionId}`;

/** USD per diamond = 0.005, i.e. one cent per two diamonds. Payout amounts must be whole cents. */
export const DIAMONDS_PER_CENT = 2;
export const PAYOUT_CURRENCY = "USD";
export const MIN_PAYOUT_DIAMONDS = 10_000;
/** Per creator per UTC day, counting payouts not failed or canceled ($10,000). */
export const DAILY_MAX_PAYOUT_DIAMONDS = 2_000_000;

export function payoutAmountMinor(diamonds: number): number {
  if (!Number.isSafeInteger(diamonds) || diamonds <= 0 || diamonds % DIAMONDS_PER_CENT !== 0) throw new Error(`diamonds must be a positive multiple of ${DIAMONDS_PER_CENT}`);
  return diamonds / DIAMONDS_PER_CENT;
}
