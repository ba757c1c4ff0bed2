import { randomUUID } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import type { LoggedEvent } from "../../../platform/eventlog.js";
import { PostgresEventLog } from "../../../platform/eventlog/postgres.js";
import type { EventLog, EventLogConsumer } from "../../../platform/eventlog/types.js";
import { GIFT_SENT, type GiftSentPayload } from "../../../platform/events.js";
import { sendJson, type Route } from "../../../platform/http.js";
import { observeEventLag } from "../../../platform/metrics.js";
import { withEventSpans } from "../../../platform/tracing.js";
import { advanceCarry, lockCarry, priceDiamonds, type CarryRow } from "./credits/carry.js";
import { creditsFor, notYetCredited, parkRejected, validateBatch } from "./credits/intake.js";
import { applyEngagement, creditHosts, feedItems, insertCredits, updateSessions, upsertBoards } from "./credits/writes.js";
import { appendToFeed } from "./feed.js";

export { invalidReason } from "./credits/intake.js";

export const GIFT_CREDIT_CONSUMER = "earnings-gift-credits";

/** A gift.sent event, validated and priced in diamonds. */
export interface Credit {
  giftEventId: string;
  position: string;
  hostId: string;
  senderId: string;
  senderName: string;
  giftId: string;
  liveSessionId: string | null;
  quantity: number;
  unitCost: number;
  coins: number;
  shareBps: number;
  /** The share period the gift falls in (by sentAt): its effective_from key, or the default's. */
  shareFrom: string;
  /** What this gift adds to the host's credited diamonds (set once the period's carry row is locked). */
  diamonds: number;
  comboId: string | null;
  sentAt: Date;
  message: string | null;
  anonymous: boolean;
  videoId: string | null;
  /** The send's W3C trace context when well-formed (an optional payload field: a bad one is dropped, never rejected). */
  traceparent: string | null;
}

export interface BatchResult {
  /** Events newly credited (re-delivered ones are skipped). */
  credited: number;
  duplicates: number;
  rejected: number;
  /** Hosts whose balance moved: one UPDATE row and one ledger entry each. */
  hosts: number;
}

/** Test seam: runs inside the batch transaction after every write, before the position moves. */
export interface CreditHooks {
  beforeCommit?: (m: EntityManager, result: BatchResult) => Promise<void>;
}

/**
 * Applies one batch of gift.sent events in the consumer's transaction — exactly once:
 * gift_credits has the gift event id as primary key (a re-delivered event inserts nothing),
 * and EventConsumer moves the read position in this same transaction.
 *
 * Diamonds carry their remainder per (host, share period): the period's carry row is locked
 * before its gifts are priced, each gift adds floor((C + c) × share) − floor(C × share), and the
 * row advances once per batch, so credited diamonds = floor(Σ coins × share) after every commit
 * (credits/carry.ts).
 *
 * Credits are aggregated per host: ONE row update per host per batch for the balance, one
 * ledger entry per host per batch, one upsert row per (host, period, sender) for the
 * leaderboards and one row update per live session — a statement count that does not grow
 * with the batch, and no hot row touched once per gift (credits/writes.ts).
 */
export async function applyGiftBatch(m: EntityManager, events: LoggedEvent<GiftSentPayload>[], hooks: CreditHooks = {}): Promise<BatchResult> {
  const result: BatchResult = { credited: 0, duplicates: 0, rejected: 0, hosts: 0 };
  const { valid, rejected, duplicates } = validateBatch(events);
  result.duplicates = duplicates;
  if (rejected.length) {
    await parkRejected(m, rejected);
    result.rejected = rejected.length;
  }
  if (valid.length) {
    const credits = await creditsFor(m, valid);
    // Lock every (host, share period) carry row this batch touches, then keep the gifts not yet
    // credited. Every gift of a period takes that row's lock first, so a concurrent batch with
    // the same gift waits here and then sees it credited.
    const carry = await lockCarry(m, credits);
    const applied = await notYetCredited(m, credits);
    result.duplicates += credits.length - applied.length;
    result.credited = applied.length;
    if (applied.length) result.hosts = await credit(m, applied, carry);
  }
  await hooks.beforeCommit?.(m, result);
  return result;
}

/** Prices and writes fresh credits: ledgers, boards, sessions, engagement, the feed, host balances. Returns the hosts credited. */
async function credit(m: EntityManager, applied: Credit[], carry: Map<string, CarryRow>): Promise<number> {
  priceDiamonds(applied, carry); // in consumer order
  const batchId = randomUUID();
  await insertCredits(m, applied, batchId);
  await advanceCarry(m, [...carry.values()]);
  const newGifters = await upsertBoards(m, applied);
  await updateSessions(m, applied, newGifters);
  const engagement = await applyEngagement(m, applied);
  await appendToFeed(m, feedItems(applied, engagement));
  // Last, so the creator rows (which requestPayout also locks) stay locked only until the COMMIT right after.
  return creditHosts(m, applied, batchId);
}

/** The gift.sent consumer, started in the subgraph's background hook, over either event-log transport. */
export class GiftCreditConsumer {
  readonly consumer: EventLogConsumer;
  hooks: CreditHooks = {};
  /** Totals since start (metrics, tests). */
  readonly totals: BatchResult = { credited: 0, duplicates: 0, rejected: 0, hosts: 0 };

  constructor(
    private readonly ds: DataSource,
    opts: { batchSize?: number; idleMs?: number; partitions?: number; log?: EventLog } = {},
  ) {
    this.consumer = (opts.log ?? new PostgresEventLog()).consumer<GiftSentPayload>(ds, {
      name: GIFT_CREDIT_CONSUMER,
      schema: "earnings",
      types: [GIFT_SENT],
      // By host (the event key): each instance credits its share of hosts, one host's gifts in order.
      partitions: opts.partitions,
      batchSize: opts.batchSize ?? 500,
      idleMs: opts.idleMs ?? 250,
      handle: async (m, events) => {
        // Each gift's trace continues here (its payload carries the sendGift request's traceparent).
        const traced = events.map((e) => ({ traceparent: e.payload?.traceparent, attributes: { "gift.event_id": String(e.id) } }));
        const r = await withEventSpans("earnings credit gift.sent", traced, () => applyGiftBatch(m, events, this.hooks));
        for (const k of Object.keys(r) as (keyof BatchResult)[]) this.totals[k] += r[k];
        const now = Date.now();
        for (const e of events) observeEventLag("earnings", "credited", e.createdAt, now);
      },
    });
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** For operators (GET /consumers): events not yet applied and what this instance applied since start. */
  async status(): Promise<{ consumer: string; partitions: number; claimed: number[]; pendingEvents: number; oldestPendingAt: string | null; sinceStart: BatchResult }> {
    const lag = await this.consumer.lag();
    return { consumer: GIFT_CREDIT_CONSUMER, partitions: this.consumer.partitions, claimed: this.consumer.claimed, pendingEvents: lag.pendingEvents, oldestPendingAt: lag.oldestPendingAt?.toISOString() ?? null, sinceStart: { ...this.totals } };
  }

  /** Applies everything committed so far (tests; start-up). */
  drain(): Promise<number> {
    return this.consumer.drain();
  }
}

/** GET /consumers: the gift consumer's lag (JSON), next to /health and /ready. */
export function consumerRoute(consumer: GiftCreditConsumer): Route {
  return async (req, res) => {
    if (req.method !== "GET" || (req.url ?? "").split("?")[0] !== "/consumers") return false;
    try {
      sendJson(res, 200, { consumers: [await consumer.status()] });
    } catch {
      sendJson(res, 503, { error: "database unavailable" });
    }
    return true;
  };
}
