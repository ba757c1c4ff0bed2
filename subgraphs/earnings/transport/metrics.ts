import type { DataSource } from "typeorm";
import type { Sample } from "../../../platform/metrics.js";
import type { EarningsServices } from "../schema/context.js";

/**
 * The earnings subgraph's state for /metrics (read at most once a second by platform/metrics.ts):
 * the gift consumer's backlog (outbox → credited), the stream's rooms and send queues, the partner
 * webhook and payout queues. Queries use existing indexes (payouts_open, webhook_subscriptions_due).
 */
export async function earningsSample(services: EarningsServices, ds: DataSource): Promise<Sample> {
  const [credit, webhooks, payouts] = await Promise.all([services.credits.status(), webhookQueue(ds), payoutQueue(ds)]);
  const rooms = services.stream.roomStats();
  const lagSeconds = credit.oldestPendingAt ? Math.max(0, (Date.now() - Date.parse(credit.oldestPendingAt)) / 1000) : 0;
  const d = services.webhookDispatcher?.stats;
  return {
    consumers: [{ consumer: credit.consumer, pendingEvents: credit.pendingEvents, lagSeconds }],
    subscriptions: services.stream.stats.subscribers,
    slowConsumersTotal: services.stream.stats.slowClosed,
    rooms: [
      { kind: "host", sizes: rooms.hostRooms },
      { kind: "session", sizes: rooms.sessionRooms },
    ],
    sendQueue: { items: rooms.queued, max: rooms.maxQueued },
    webhooks: { ...webhooks, attempts: d ? { delivered: d.delivered, failed: d.failed, disabled: d.disabled } : {} },
    payouts,
  };
}

async function webhookQueue(ds: DataSource): Promise<{ byStatus: Record<string, number>; backlogEvents: number }> {
  const rows: { status: string; n: number; failing: number; backlog: string }[] = await ds.query(
    `SELECT s.status, count(*)::int AS n, count(*) FILTER (WHERE s.failing_since IS NOT NULL)::int AS failing,
            coalesce(sum(greatest(0, (SELECT coalesce(max(seq), 0) FROM earnings.webhook_events) - s.cursor_seq)) FILTER (WHERE s.status = 'ENABLED'), 0)::text AS backlog
       FROM earnings.webhook_subscriptions s
      WHERE s.status IN ('VERIFICATION_PENDING', 'ENABLED')
      GROUP BY s.status`,
  );
  const byStatus: Record<string, number> = { VERIFICATION_PENDING: 0, ENABLED: 0, failing: 0 };
  let backlogEvents = 0;
  for (const r of rows) {
    byStatus[r.status] = r.n;
    byStatus.failing += r.failing;
    backlogEvents += Number(r.backlog);
  }
  return { byStatus, backlogEvents };
}

async function payoutQueue(ds: DataSource): Promise<Record<string, number>> {
  const rows: { status: string; n: number }[] = await ds.query(
    `SELECT status, count(*)::int AS n FROM earnings.payouts WHERE status IN ('REQUESTED', 'PROCESSING') GROUP BY status`,
  );
  const out: Record<string, number> = { REQUESTED: 0, PROCESSING: 0 };
  for (const r of rows) out[r.status] = r.n;
  return out;
}
