import "reflect-metadata";
import { randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import { createDataSource, migrate } from "../../platform/db.js";
import { appendEvent, ensureEventLog } from "../../platform/eventlog.js";
import { GIFT_SENT, type GiftSentPayload } from "../../platform/events.js";
import { entities, migrations } from "../../subgraphs/earnings/db/index.js";

/** An earnings DataSource on a test database, migrated, with the event log created. */
export async function earningsDataSource(url: string, poolSize = 6) {
  const { dataSource, queries } = createDataSource({ url, schema: "earnings", entities, migrations, poolSize });
  await dataSource.initialize();
  await migrate(dataSource, "earnings");
  await ensureEventLog(dataSource);
  return { ds: dataSource, queries };
}

export function gift(p: Partial<GiftSentPayload> & { hostId: string }): GiftSentPayload {
  const quantity = p.quantity ?? 1;
  const unitCost = p.unitCost ?? 10;
  return {
    giftEventId: p.giftEventId ?? randomUUID(),
    senderId: p.senderId ?? "viewer-1",
    senderName: p.senderName ?? "Viewer One",
    hostId: p.hostId,
    liveSessionId: p.liveSessionId ?? null,
    giftId: p.giftId ?? "gift-rose",
    unitCost,
    quantity,
    coins: p.coins ?? unitCost * quantity,
    comboId: p.comboId ?? null,
    sentAt: p.sentAt ?? new Date().toISOString(),
  };
}

/** Produces gift.sent events the way the wallet does (appendEvent in a transaction); each gets its own event id, so a re-sent gift is a true duplicate delivery. */
export async function produce(ds: DataSource, gifts: GiftSentPayload[]): Promise<void> {
  const ids: string[] = [];
  await ds.transaction(async (m) => {
    for (const g of gifts) ids.push(await appendEvent(m, { type: GIFT_SENT, key: g.hostId, payload: g }));
  });
  await visible(ds, ids);
}

/**
 * Waits until consumers can read these events. The event log hands out only events older
 * than every running transaction in the whole PostgreSQL cluster (other test files included),
 * so "committed" is not yet "readable"; without this wait a drain() may find nothing.
 */
export async function visible(ds: DataSource, eventIds: string[]): Promise<void> {
  for (;;) {
    const [{ ok }] = await ds.query(
      `SELECT coalesce(bool_and(tx < pg_snapshot_xmin(pg_current_snapshot())), true) AS ok FROM eventlog.events WHERE event_id = ANY($1::uuid[])`,
      [eventIds],
    );
    if (ok) return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

export async function one<T = any>(ds: DataSource, sql: string, params: unknown[] = []): Promise<T> {
  return (await ds.query(sql, params))[0] as T;
}
