import type { DataSource } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode } from "../../../platform/errors.js";
import { LIMIT_RAISE_DELAY_SECONDS, isTightening, loadSpendingLimit, spentInWindow, type LimitPeriod, type SpendingLimitRow } from "./recharge-limits.js";
import type { RechargeService } from "./recharge.js";

export interface SpendingLimitView {
  period: LimitPeriod;
  amountMinor: number;
  currency: string;
  locale: string;
  spentMinor: number;
  remainingMinor: number;
  pending: { period: LimitPeriod | null; amountMinor: number | null; currency: string | null; removes: boolean; effectiveAt: string } | null;
}

export const MAX_LIMIT_MINOR = 1_000_000_000_000;

/**
 * A viewer's own spending limit (responsible spending): lowering it or setting one applies at once;
 * raising or removing it applies only after LIMIT_RAISE_DELAY_SECONDS, so an impulse cannot undo it.
 */
export class SpendingLimitService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly recharge: RechargeService,
  ) {}

  async view(userId: string, now = new Date()): Promise<SpendingLimitView | null> {
    const state = await loadSpendingLimit(this.dataSource.manager, userId, now);
    const limit = state.current;
    const pending = state.pending
      ? {
          period: state.pending.limit?.period ?? null,
          amountMinor: state.pending.limit?.amountMinor ?? null,
          currency: state.pending.limit?.currency ?? null,
          removes: state.pending.limit === null,
          effectiveAt: state.pending.effectiveAt.toISOString(),
        }
      : null;
    if (!limit) return null;
    const region = await this.recharge.regionByCurrency(limit.currency);
    const spent = await spentInWindow(this.dataSource.manager, userId, limit, region && { numerator: region.customPriceMinor, denominator: region.customPriceCoins }, now);
    return {
      ...limit,
      locale: region?.locale ?? "en-US",
      spentMinor: spent,
      remainingMinor: Math.max(0, limit.amountMinor - spent),
      pending,
    };
  }

  /** `limit` null removes it. The amount is in the currency of the caller's region. */
  async set(user: AuthUser, limit: { period: LimitPeriod; amountMinor: number } | null, now = new Date()): Promise<{ view: SpendingLimitView | null; pendingOnly: boolean }> {
    if (limit && (!Number.isSafeInteger(limit.amountMinor) || limit.amountMinor < 0 || limit.amountMinor > MAX_LIMIT_MINOR)) {
      throw new DomainError(ErrorCode.INVALID_INPUT, `amountMinor must be between 0 and ${MAX_LIMIT_MINOR}`, { field: ["input", "amountMinor"] });
    }
    const region = await this.recharge.resolveRegion(user.region);
    const next: SpendingLimitRow | null = limit && { ...limit, currency: region.currency };
    let pendingOnly = false;
    await this.dataSource.transaction(async (m) => {
      // Same lock as recharge: a limit change and a purchase never interleave.
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('wallet:recharge:' || $1))`, [user.id]);
      const { current } = await loadSpendingLimit(m, user.id, now);
      if (isTightening(current, next)) {
        await m.query(
          `INSERT INTO wallet.spending_limits (user_id, period, amount_minor, currency, updated_at) VALUES ($1, $2, $3, $4, now())
           ON CONFLICT (user_id) DO UPDATE SET period = $2, amount_minor = $3, currency = $4, pending_period = NULL, pending_amount_minor = NULL,
             pending_currency = NULL, pending_remove = false, pending_effective_at = NULL, updated_at = now()`,
          [user.id, next?.period ?? null, next?.amountMinor ?? null, next?.currency ?? null],
        );
      } else {
        pendingOnly = true;
        // Keep what is in force now (a matured pending change is folded in first), queue the looser one.
        await m.query(
          `INSERT INTO wallet.spending_limits (user_id, period, amount_minor, currency, pending_period, pending_amount_minor, pending_currency, pending_remove, pending_effective_at, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now())
           ON CONFLICT (user_id) DO UPDATE SET period = $2, amount_minor = $3, currency = $4, pending_period = $5, pending_amount_minor = $6,
             pending_currency = $7, pending_remove = $8, pending_effective_at = $9, updated_at = now()`,
          [
            user.id,
            current?.period ?? null,
            current?.amountMinor ?? null,
            current?.currency ?? null,
            next?.period ?? null,
            next?.amountMinor ?? null,
            next?.currency ?? null,
            next === null,
            new Date(now.getTime() + LIMIT_RAISE_DELAY_SECONDS * 1000),
          ],
        );
      }
    });
    return { view: await this.view(user.id, now), pendingOnly };
  }
}
