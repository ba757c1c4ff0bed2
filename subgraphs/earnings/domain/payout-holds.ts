import type { DataSource } from "typeorm";
import { DomainError, ErrorCode } from "../../../platform/errors.js";

/**
 * Payout holds (DECISIONS 50): while a creator is on hold, their REQUESTED payouts are not
 * submitted (they stay reserved, and the creator may still cancel them); payouts already with
 * the provider finish. Every hold and release is kept with who and why.
 */
export interface HoldRecord {
  creatorId: string;
  reason: string;
  heldBy: string;
  heldAt: string;
}

export interface PayoutLifecycle {
  attempts: number;
  nextAttemptAt: string | null;
  lastError: string | null;
  providerRef: string | null;
  events: { from: string | null; to: string; note: string; at: string }[];
}

const MAX_REASON = 500;
const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function reasonOf(raw: string): string {
  const r = (raw ?? "").trim();
  if (r.length === 0 || r.length > MAX_REASON) throw new DomainError(ErrorCode.INVALID_INPUT, `reason must be 1..${MAX_REASON} characters`, { field: ["input", "reason"] });
  return r;
}

export class PayoutHoldService {
  constructor(private readonly ds: DataSource) {}

  /** Puts a creator's payouts on hold; holding an already held creator keeps the first hold (and its reason). */
  async hold(adminId: string, creatorId: string, reasonIn: string): Promise<HoldRecord> {
    const reason = reasonOf(reasonIn);
    return this.ds.transaction(async (m) => {
      const [c] = await m.query(`SELECT 1 FROM earnings.creators WHERE id = $1`, [creatorId]);
      if (!c) throw new DomainError(ErrorCode.NOT_FOUND, "no such creator", { field: ["input", "creatorId"] });
      const inserted = await m.query(
        `INSERT INTO earnings.payout_holds (creator_id, reason, held_by) VALUES ($1, $2, $3) ON CONFLICT (creator_id) DO NOTHING RETURNING creator_id`,
        [creatorId, reason, adminId],
      );
      if (inserted.length) await m.query(`INSERT INTO earnings.payout_hold_events (creator_id, action, reason, actor) VALUES ($1, 'HOLD', $2, $3)`, [creatorId, reason, adminId]);
      const [h] = await m.query(`SELECT * FROM earnings.payout_holds WHERE creator_id = $1`, [creatorId]);
      return toHold(h);
    });
  }

  /** Lifts a hold; the next run submits the creator's REQUESTED payouts. Releasing a creator not on hold changes nothing. */
  async release(adminId: string, creatorId: string, reasonIn: string): Promise<void> {
    const reason = reasonOf(reasonIn);
    await this.ds.transaction(async (m) => {
      const deleted = await m.query(`WITH d AS (DELETE FROM earnings.payout_holds WHERE creator_id = $1 RETURNING creator_id) SELECT creator_id FROM d`, [creatorId]);
      if (deleted.length) await m.query(`INSERT INTO earnings.payout_hold_events (creator_id, action, reason, actor) VALUES ($1, 'RELEASE', $2, $3)`, [creatorId, reason, adminId]);
      else {
        const [c] = await m.query(`SELECT 1 FROM earnings.creators WHERE id = $1`, [creatorId]);
        if (!c) throw new DomainError(ErrorCode.NOT_FOUND, "no such creator", { field: ["input", "creatorId"] });
      }
    });
  }

  async holdOf(creatorId: string): Promise<HoldRecord | null> {
    const [h] = await this.ds.query(`SELECT * FROM earnings.payout_holds WHERE creator_id = $1`, [creatorId]);
    return h ? toHold(h) : null;
  }

  async history(creatorId: string): Promise<{ action: string; reason: string; actor: string; at: string }[]> {
    const rows = await this.ds.query(`SELECT action, reason, actor, at FROM earnings.payout_hold_events WHERE creator_id = $1 ORDER BY id`, [creatorId]);
    return rows.map((r: any) => ({ action: r.action, reason: r.reason, actor: r.actor, at: iso(r.at)! }));
  }

  /** Attempts, retry plan and status history of a payout (what the host sees of its lifecycle). */
  async lifecycle(payoutId: string): Promise<PayoutLifecycle> {
    const [p] = await this.ds.query(`SELECT attempts, next_attempt_at, last_error, provider_ref FROM earnings.payouts WHERE id = $1`, [payoutId]);
    const events = await this.ds.query(`SELECT from_status, to_status, note, at FROM earnings.payout_events WHERE payout_id = $1 ORDER BY id`, [payoutId]);
    return {
      attempts: Number(p?.attempts ?? 0),
      nextAttemptAt: iso(p?.next_attempt_at ?? null),
      lastError: p?.last_error ?? null,
      providerRef: p?.provider_ref ?? null,
      events: events.map((e: any) => ({ from: e.from_status, to: e.to_status, note: e.note, at: iso(e.at)! })),
    };
  }
}

function toHold(h: any): HoldRecord {
  return { creatorId: h.creator_id, reason: h.reason, heldBy: h.held_by, heldAt: iso(h.held_at)! };
}
