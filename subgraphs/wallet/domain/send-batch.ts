import type { DataSource } from "typeorm";
import { isTransientDatabaseError } from "../../../platform/db.js";
import { GroupCommit, type GroupCommitOptions, type GroupCommitStats } from "../../../platform/group-commit.js";
import { groupCommitMetrics } from "../../../platform/metrics/group-commit.js";
import type { GiftSentPayload } from "../../../platform/events.js";
import { gcraSeconds } from "../../../platform/gcra-table.js";
import type { BucketRule } from "../../../platform/token-bucket.js";
import type { Balance } from "./accounts.js";

/**
 * sendGift's writes, group-committed (DECISIONS 90, docs/gifting.md "Group commit"): the sends
 * that reach this point concurrently — every check that needs no wallet row already passed — are
 * applied by ONE call of `wallet.send_gifts` (migration 1733400000000, its writes set-based since 1733700000000; called through
 * `send_gifts_with_balances`, 1733500000000, which adds each sender's balance after the batch): one round trip, one
 * transaction, one commit for the whole batch, each send with its own outcome, in arrival order.
 */

/** One send, ready to be written: ids chosen, price fixed, payload built. */
export interface PreparedSend {
  giftEventId: string;
  senderId: string;
  senderName: string;
  giftId: string;
  hostId: string;
  liveSessionId: string | null;
  quantity: number;
  unitCost: number;
  coins: number;
  comboId: string | null;
  message: string | null;
  anonymous: boolean;
  videoId: string | null;
  idempotencyKey: string;
  requestHash: string;
  /** The gift.sent payload without sentAt (the statement adds the database's instant). */
  payload: Omit<GiftSentPayload, "sentAt">;
}

/** What the batch did with one send. `response` is the stored GiftEventRecord (also for a replay). */
export type SendOutcome =
  | { kind: "SENT" | "REPLAYED"; response: unknown; /** The sender's wallet as the batch left it (read after its writes). */ balance: Balance }
  | { kind: "KEY_REUSED" | "IN_FLIGHT" | "COMBO_MISMATCH" }
  | { kind: "RATE_LIMITED"; retryAfterSeconds: number }
  | { kind: "IN_DEBT" | "INSUFFICIENT_COINS"; balance: number; debt: string }
  | { kind: "COMBO_FULL"; comboTotal: number };

interface OutcomeRow {
  o_idx: number;
  o_outcome: SendOutcome["kind"];
  o_response: unknown;
  o_balance: string | null;
  o_debt: string | null;
  o_wait: number | null;
  o_combo_total: number | null;
  o_coins_now: string | null;
  o_debt_now: string | null;
}

export interface SendBatchOptions extends Pick<GroupCommitOptions, "maxSize" | "maxWaitMs" | "maxInFlight"> {
  /** The sendGift rate rule (MoneyRateLimiter.rules.sendGift). */
  rateRule: BucketRule;
  /** The combo cap (MAX_COMBO_QUANTITY). */
  maxCombo: number;
}

export interface SendBatchStats extends GroupCommitStats {
  /** Sends answered with the result of the same key's send earlier in their own batch (a client's concurrent retry). */
  duplicatesInBatch: number;
}

/** The send queue's name in the group_commit_* metrics (`queue` label). */
export const SEND_BATCH_QUEUE = "send_gifts";

export class SendBatcher {
  private readonly commit: GroupCommit<PreparedSend, SendOutcome>;
  private duplicatesInBatch = 0;

  constructor(
    private readonly ds: DataSource,
    private readonly opts: SendBatchOptions,
  ) {
    this.commit = new GroupCommit<PreparedSend, SendOutcome>(
      { maxSize: opts.maxSize, maxWaitMs: opts.maxWaitMs, maxInFlight: opts.maxInFlight, observer: groupCommitMetrics("wallet", SEND_BATCH_QUEUE) },
      (sends) => this.write(sends),
      // One sender's sends apply in the order they arrived, within a batch and across batches.
      (s) => s.senderId,
      isTransientDatabaseError,
    );
  }

  /**
   * Resolves with the send's outcome once its batch committed (or rolled back: a business failure
   * leaves nothing). Rejects with the database error when the batch failed as a whole after its
   * retries (a transient one reaches the client as SERVICE_UNAVAILABLE; retry with the same key).
   */
  send(s: PreparedSend): Promise<SendOutcome> {
    return this.commit.submit(s);
  }

  stats(): SendBatchStats {
    return { ...this.commit.stats(), duplicatesInBatch: this.duplicatesInBatch };
  }

  drain(): Promise<void> {
    return this.commit.drain();
  }

  /** One statement for the batch; autocommit makes it one transaction. */
  private async write(sends: PreparedSend[]): Promise<SendOutcome[]> {
    const { interval, tolerance } = gcraSeconds(this.opts.rateRule);
    const rows: OutcomeRow[] = await this.ds.query(`SELECT * FROM wallet.send_gifts_with_balances($1::jsonb, $2, $3, $4)`, [
      JSON.stringify(sends.map(toJson)),
      interval,
      tolerance,
      this.opts.maxCombo,
    ]);
    const out: SendOutcome[] = new Array(sends.length);
    for (const r of rows) out[r.o_idx] = toOutcome(r, sends[r.o_idx].senderId, interval);
    const sent = new Set<string>();
    for (let i = 0; i < sends.length; i++) {
      if (!out[i]) throw new Error(`send_gifts answered nothing for send ${i} of ${sends.length}`);
      const key = `${sends[i].senderId}\u0000${sends[i].idempotencyKey}`;
      if (out[i].kind === "SENT") sent.add(key);
      else if (out[i].kind === "REPLAYED" && sent.has(key)) this.duplicatesInBatch++;
    }
    return out;
  }
}

function toJson(s: PreparedSend, i: number) {
  return {
    i,
    id: s.giftEventId,
    sender_id: s.senderId,
    sender_name: s.senderName,
    gift_id: s.giftId,
    host_id: s.hostId,
    live_session_id: s.liveSessionId,
    quantity: s.quantity,
    unit_cost: s.unitCost,
    coins: s.coins,
    combo_id: s.comboId,
    message: s.message,
    anonymous: s.anonymous,
    video_id: s.videoId,
    key: s.idempotencyKey,
    request_hash: s.requestHash,
    payload: s.payload,
  };
}

function toOutcome(r: OutcomeRow, sender: string, interval: number): SendOutcome {
  switch (r.o_outcome) {
    case "SENT":
    case "REPLAYED":
      return { kind: r.o_outcome, response: r.o_response, balance: { userId: sender, coins: Number(r.o_coins_now ?? 0), debt: Number(r.o_debt_now ?? 0) } };
    case "RATE_LIMITED":
      // As MoneyRateLimiter.refusal: whole seconds until the next token, at least 1.
      return { kind: "RATE_LIMITED", retryAfterSeconds: Math.max(1, Math.ceil(Number(r.o_wait ?? interval))) };
    case "IN_DEBT":
    case "INSUFFICIENT_COINS":
      return { kind: r.o_outcome, balance: Number(r.o_balance ?? 0), debt: String(r.o_debt ?? "0") };
    case "COMBO_FULL":
      return { kind: "COMBO_FULL", comboTotal: Number(r.o_combo_total ?? 0) };
    case "KEY_REUSED":
    case "IN_FLIGHT":
    case "COMBO_MISMATCH":
      return { kind: r.o_outcome };
    default:
      throw new Error(`send_gifts: unknown outcome ${String(r.o_outcome)}`);
  }
}
