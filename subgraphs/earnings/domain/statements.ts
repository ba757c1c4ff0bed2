import type { DataSource } from "typeorm";
import { badInput } from "../../../platform/errors.js";
import { PAYOUT_CURRENCY } from "./revenue.js";

/**
 * Monthly earnings statements (DECISIONS 51), straight from the diamonds ledger so every figure
 * reconciles with it:
 *
 *   opening + earned (live sessions + videos + rounding) − reserved for payouts + returned + adjustments = closing
 *
 * Every term is a sum of `earnings.diamond_ledger` entries created in the UTC month, so the
 * identity holds by construction and `closing` equals the ledger's balance at month end. The
 * split of GIFTS entries by source comes from `gift_credits` joined to the batch's ledger entry
 * (`gift-batch:<batch id>`), so a gift counts in the month its diamonds landed; `rounding` is the
 * GIFTS total minus the per-gift sum (0 while diamonds are floored per gift; a remainder carried
 * per creator shows up here instead of being lost). Sources: a gift sent in a live session is
 * LIVE_SESSION, one sent outside a session (on a video or the profile) is VIDEO.
 */

export interface SourceLine {
  gifts: number;
  coins: number;
  diamonds: number;
}

export interface ShareLine {
  shareBps: number;
  coins: number;
  diamonds: number;
}

export interface Statement {
  creatorId: string;
  month: string;
  from: string;
  until: string;
  /** False for the current month (figures to date). */
  complete: boolean;
  openingDiamonds: number;
  liveSessions: SourceLine;
  videos: SourceLine;
  roundingDiamonds: number;
  earnedDiamonds: number;
  shares: ShareLine[];
  reservedDiamonds: number;
  returnedDiamonds: number;
  adjustmentDiamonds: number;
  closingDiamonds: number;
  payoutsPaid: { count: number; diamonds: number; amountMinor: number; feesMinor: number; currency: string };
  /** Diamonds in payouts requested but not PAID, FAILED or CANCELED at month end. */
  pendingPayoutDiamonds: number;
}

export const EARLIEST_MONTH = "2020-01";

/** "YYYY-MM" → [first instant, first instant of the next month) in UTC. */
export function monthRange(month: string, now = new Date()): { from: Date; until: Date; complete: boolean } {
  const m = /^(\d{4})-(0[1-9]|1[0-2])$/.exec(month ?? "");
  if (!m) throw badInput("month must be YYYY-MM, e.g. 2031-01", ["month"]);
  const from = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, 1));
  const until = new Date(Date.UTC(Number(m[1]), Number(m[2]), 1));
  if (month < EARLIEST_MONTH) throw badInput(`month must be ${EARLIEST_MONTH} or later`, ["month"]);
  if (from.getTime() > now.getTime()) throw badInput("month has not started yet", ["month"]);
  return { from, until, complete: until.getTime() <= now.getTime() };
}

const n = (v: unknown) => Number(v ?? 0);

export class StatementService {
  constructor(private readonly ds: DataSource) {}

  async statement(creatorId: string, month: string, now = new Date()): Promise<Statement> {
    const { from, until, complete } = monthRange(month, now);
    const [ledger] = await this.ds.query(
      `SELECT coalesce(sum(amount) FILTER (WHERE created_at < $2), 0) AS opening,
              coalesce(sum(amount) FILTER (WHERE created_at >= $2 AND created_at < $3 AND type = 'GIFTS'), 0) AS gifts,
              coalesce(sum(amount) FILTER (WHERE created_at >= $2 AND created_at < $3 AND type = 'PAYOUT_RESERVED'), 0) AS reserved,
              coalesce(sum(amount) FILTER (WHERE created_at >= $2 AND created_at < $3 AND type = 'PAYOUT_RETURNED'), 0) AS returned,
              coalesce(sum(amount) FILTER (WHERE created_at >= $2 AND created_at < $3 AND type = 'ADJUSTMENT'), 0) AS adjustments,
              coalesce(sum(amount) FILTER (WHERE created_at < $3), 0) AS closing
         FROM earnings.diamond_ledger WHERE creator_id = $1`,
      [creatorId, from, until],
    );
    // Per-gift detail of the GIFTS entries of the month (each batch's entry carries its gifts' sum).
    const bySource = await this.ds.query(
      `SELECT g.live_session_id IS NOT NULL AS live, g.share_bps, sum(g.quantity)::bigint AS gifts, sum(g.coins)::bigint AS coins, sum(g.diamonds)::bigint AS diamonds
         FROM earnings.gift_credits g
         JOIN earnings.diamond_ledger l ON l.creator_id = g.host_id AND l.type = 'GIFTS' AND l.reference = 'gift-batch:' || g.batch_id::text
        WHERE g.host_id = $1 AND l.created_at >= $2 AND l.created_at < $3
        GROUP BY 1, 2 ORDER BY 2`,
      [creatorId, from, until],
    );
    const line = (live: boolean): SourceLine =>
      bySource.filter((r: any) => r.live === live).reduce((s: SourceLine, r: any) => ({ gifts: s.gifts + n(r.gifts), coins: s.coins + n(r.coins), diamonds: s.diamonds + n(r.diamonds) }), { gifts: 0, coins: 0, diamonds: 0 });
    const shares = new Map<number, ShareLine>();
    for (const r of bySource) {
      const s = shares.get(r.share_bps) ?? { shareBps: r.share_bps, coins: 0, diamonds: 0 };
      s.coins += n(r.coins);
      s.diamonds += n(r.diamonds);
      shares.set(r.share_bps, s);
    }
    const [paid] = await this.ds.query(
      `SELECT count(*)::int AS count, coalesce(sum(diamonds), 0) AS diamonds, coalesce(sum(amount_minor), 0) AS amount, coalesce(sum(fee_minor), 0) AS fees
         FROM earnings.payouts WHERE creator_id = $1 AND status = 'PAID' AND completed_at >= $2 AND completed_at < $3`,
      [creatorId, from, until],
    );
    const [pending] = await this.ds.query(
      `SELECT coalesce(sum(diamonds), 0) AS d FROM earnings.payouts
        WHERE creator_id = $1 AND requested_at < $2 AND NOT (status IN ('PAID', 'FAILED', 'CANCELED') AND completed_at < $2)`,
      [creatorId, until],
    );
    const liveSessions = line(true);
    const videos = line(false);
    return {
      creatorId,
      month,
      from: from.toISOString(),
      until: until.toISOString(),
      complete,
      openingDiamonds: n(ledger.opening),
      liveSessions,
      videos,
      roundingDiamonds: n(ledger.gifts) - liveSessions.diamonds - videos.diamonds,
      earnedDiamonds: n(ledger.gifts),
      shares: [...shares.values()],
      reservedDiamonds: -n(ledger.reserved),
      returnedDiamonds: n(ledger.returned),
      adjustmentDiamonds: n(ledger.adjustments),
      closingDiamonds: n(ledger.closing),
      payoutsPaid: { count: paid.count, diamonds: n(paid.diamonds), amountMinor: n(paid.amount), feesMinor: n(paid.fees), currency: PAYOUT_CURRENCY },
      pendingPayoutDiamonds: n(pending.d),
    };
  }
}

const cell = (v: string | number) => {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The statement as CSV (RFC 4180, CRLF): one line per figure, amounts as integers (diamonds; money in minor units + currency). */
export function statementCsv(s: Statement): string {
  const rows: (string | number)[][] = [
    ["line", "gifts", "coins", "share_bps", "diamonds", "amount_minor", "currency"],
    ["creator", "", "", "", "", "", s.creatorId],
    ["month", "", "", "", "", "", s.month],
    ["opening_balance", "", "", "", s.openingDiamonds, "", ""],
    ["earned_live_sessions", s.liveSessions.gifts, s.liveSessions.coins, "", s.liveSessions.diamonds, "", ""],
    ["earned_videos", s.videos.gifts, s.videos.coins, "", s.videos.diamonds, "", ""],
    ["earned_rounding", "", "", "", s.roundingDiamonds, "", ""],
    ...s.shares.map((x) => ["revenue_share", "", x.coins, x.shareBps, x.diamonds, "", ""]),
    ["reserved_for_payouts", "", "", "", -s.reservedDiamonds, "", ""],
    ["payouts_returned", "", "", "", s.returnedDiamonds, "", ""],
    ["adjustments", "", "", "", s.adjustmentDiamonds, "", ""],
    ["closing_balance", "", "", "", s.closingDiamonds, "", ""],
    ["payouts_paid", s.payoutsPaid.count, "", "", s.payoutsPaid.diamonds, s.payoutsPaid.amountMinor, s.payoutsPaid.currency],
    ["payout_fees", "", "", "", "", s.payoutsPaid.feesMinor, s.payoutsPaid.currency],
    ["payouts_pending", "", "", "", s.pendingPayoutDiamonds, "", ""],
  ];
  return rows.map((r) => r.map(cell).join(",")).join("\r\n") + "\r\n";
}
