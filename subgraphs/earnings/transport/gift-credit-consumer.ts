import type { DataSource } from "typeorm";
import { PostgresEventLog } from "../../../platform/eventlog/postgres.js";
import type { EventLog, EventLogConsumer } from "../../../platform/eventlog/types.js";
import { GIFT_SENT, type GiftSentPayload } from "../../../platform/events.js";
import { sendJson, type Route } from "../../../platform/http.js";
import { observeEventLag } from "../../../platform/metrics.js";
import { withEventSpans } from "../../../platform/tracing.js";
import { applyGiftBatch, type BatchResult, type CreditHooks } from "../domain/credits.js";

export const GIFT_CREDIT_CONSUMER = "earnings-gift-credits";

/** The gift.sent consumer, started in the subgraph's background hook, over either event-log transport. */
export class GiftCreditConsumer {
  readonly consumer: EventLogConsumer;
  hooks: CreditHooks = {};
  /** Totals since start (metrics, tests). */
  readonly totals: BatchResult = { credited: 0, duplicates: 0, rejected: 0, hosts: 0 };

  constructor(
    private readonly ds: DataSource,
    opts: { batchSize?: number; idleMs?: number; lingerMs?: number; partitions?: number; log?: EventLog } = {},
  ) {
    this.consumer = (opts.log ?? new PostgresEventLog()).consumer<GiftSentPayload>(ds, {
      name: GIFT_CREDIT_CONSUMER,
      schema: "earnings",
      types: [GIFT_SENT],
      // By host (the event key): each instance credits its share of hosts, one host's gifts in order.
      partitions: opts.partitions,
      batchSize: opts.batchSize ?? 500,
      idleMs: opts.idleMs ?? 250,
      lingerMs: opts.lingerMs,
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
