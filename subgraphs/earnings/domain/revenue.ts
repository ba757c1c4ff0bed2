/**
 * Pure rules for turning coins into diamonds and for leaderboard periods.
 * Everything is integer math: no floating point near money.
 */

/** Basis points: 10,000 = 100%. */
export const BPS = 10_000;
/** The platform's default revenue share: 50%. Per-creator overrides live in earnings.revenue_shares. */
export const DEFAULT_SHARE_BPS = 5_000;

/** floor(coins × share) for non-negative integers. */
export function diamondsFor(coins: number, shareBps: number): number {
  if (!Number.isSafeInteger(coins) || coins < 0) throw new Error(`coins must be a non-negative integer, got ${coins}`);
  if (!Number.isInteger(shareBps) || shareBps < 0 || shareBps > BPS) throw new Error(`share must be 0..${BPS} bps, got ${shareBps}`);
  // BigInt: coins × bps can pass 2^53 for very large gifts; the result never does.
  return Number((BigInt(coins) * BigInt(shareBps)) / BigInt(BPS));
}

export interface ShareRow {
  effectiveFrom: Date;
  shareBps: number;
}

/** The share in force at `at`: the latest override that started at or before it, else the default. `history` sorted ascending. */
export function shareAt(history: readonly ShareRow[], at: Date): number {
  let share = DEFAULT_SHARE_BPS;
  for (const h of history) {
    if (h.effectiveFrom.getTime() <= at.getTime()) share = h.shareBps;
    else break;
  }
  return share;
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
