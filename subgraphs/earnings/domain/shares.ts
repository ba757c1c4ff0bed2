import type { DataSource } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, badInput } from "../../../platform/errors.js";
import { BPS, DEFAULT_SHARE_BPS, shareAt, type ShareRow } from "./revenue.js";

export interface ShareHistoryRow extends ShareRow {
  setBy: string;
  reason: string;
  createdAt: Date;
}

/** Per-creator revenue-share overrides, kept with their history (admin only). */
export class RevenueShareService {
  constructor(private readonly ds: DataSource) {}

  async history(creatorId: string): Promise<ShareHistoryRow[]> {
    const found = await this.ds.query(
      `SELECT effective_from, share_bps, set_by, reason, created_at FROM earnings.revenue_shares WHERE creator_id = $1 ORDER BY effective_from`,
      [creatorId],
    );
    return found.map((r: any) => ({ effectiveFrom: r.effective_from, shareBps: r.share_bps, setBy: r.set_by, reason: r.reason, createdAt: r.created_at }));
  }

  async current(creatorId: string, at = new Date()): Promise<number> {
    return shareAt(await this.history(creatorId), at);
  }

  /**
   * Schedules a share from `effectiveFrom` (default now). Never in the past: gifts already
   * sent keep the share they were sent under, even if not yet credited.
   */
  async set(admin: AuthUser, creatorId: string, shareBps: number, effectiveFrom: Date | null, reason: string): Promise<ShareHistoryRow[]> {
    if (!Number.isInteger(shareBps) || shareBps < 0 || shareBps > BPS) throw badInput(`shareBps must be 0..${BPS}`, ["input", "shareBps"]);
    if (reason.length > 500) throw badInput("reason must be at most 500 characters", ["input", "reason"]);
    const [creator] = await this.ds.query(`SELECT id FROM earnings.creators WHERE id = $1`, [creatorId]);
    if (!creator) throw new DomainError(ErrorCode.NOT_FOUND, "no such creator", { field: ["input", "creatorId"] });
    const inserted = await this.ds.query(
      `INSERT INTO earnings.revenue_shares (creator_id, effective_from, share_bps, set_by, reason)
       SELECT $1, coalesce($2::timestamptz, now()), $3, $4, $5 WHERE coalesce($2::timestamptz, now()) >= now()
       ON CONFLICT (creator_id, effective_from) DO UPDATE SET share_bps = EXCLUDED.share_bps, set_by = EXCLUDED.set_by, reason = EXCLUDED.reason
       RETURNING 1`,
      [creatorId, effectiveFrom, shareBps, admin.id, reason],
    );
    if (inserted.length === 0) throw new DomainError(ErrorCode.INVALID_INPUT, "effectiveFrom must not be in the past", { field: ["input", "effectiveFrom"] });
    return this.history(creatorId);
  }
}

export { DEFAULT_SHARE_BPS };
