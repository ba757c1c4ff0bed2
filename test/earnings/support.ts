import "reflect-metadata";
import { randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import { createDataSource, migrate } from "../../platform/db.js";
import { appendEvent, ensureEventLog } from "../../platform/eventlog.js";
import { GIFT_SENT, type GiftSentPayload } from "../../platform/events.js";
import { entities, migrations } from "../../subgraphs/earnings/db/index.js";
import { until } from "../support/eventually.js";

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
  const readable = async () => {
    const [{ ok }] = await ds.query(
      `SELECT coalesce(bool_and(tx < pg_snapshot_xmin(pg_current_snapshot())), true) AS ok FROM eventlog.events WHERE event_id = ANY($1::uuid[])`,
      [eventIds],
    );
    return ok as boolean;
  };
  await until(readable, `${eventIds.length} events to become readable (a transaction elsewhere in the cluster is still open)`, 60_000, 5);
}

export async function one<T = any>(ds: DataSource, sql: string, params: unknown[] = []): Promise<T> {
  return (await ds.query(sql, params))[0] as T;
}

/**
 * The diamonds rule (docs/earnings.md, "The carry"), checked from the tables; returns what breaks it
 * (expect []). Per creator and share period — the revenue_shares row in force at each gift's sentAt,
 * or the default before the first — credited diamonds = floor(Σ coins × share_bps / 10000):
 * - every credit names the period in force at its sentAt, with that period's share;
 * - every credit adds between floor(coins × share) and ceil(coins × share);
 * - every creator's lifetime diamonds = Σ over their periods of floor(Σ coins × share);
 * - every carry row holds its period's totals (+ what the backfill topped up) and obeys the rule.
 * `query` may be any connection to the database (the wallet's, in the stack tests).
 */
export async function diamondRuleViolations(query: (sql: string, params?: unknown[]) => Promise<any[]>, defaultShareBps = 5000): Promise<string[]> {
  const out: string[] = [];
  const periods = await query(
    `SELECT g.gift_event_id, g.share_from::text AS recorded, g.share_bps, coalesce(r.effective_from::text, '-infinity') AS expected, coalesce(r.share_bps, $1) AS expected_bps
       FROM earnings.gift_credits g
       LEFT JOIN LATERAL (SELECT effective_from, share_bps FROM earnings.revenue_shares s
                           WHERE s.creator_id = g.host_id AND date_trunc('milliseconds', s.effective_from) <= g.sent_at
                           ORDER BY s.effective_from DESC LIMIT 1) r ON true
      WHERE g.share_from IS DISTINCT FROM coalesce(r.effective_from, '-infinity') OR g.share_bps <> coalesce(r.share_bps, $1)`,
    [defaultShareBps],
  );
  for (const p of periods) out.push(`credit ${p.gift_event_id}: period ${p.recorded} at ${p.share_bps} bps, expected ${p.expected} at ${p.expected_bps} bps`);
  const bounds = await query(
    `SELECT gift_event_id, coins, share_bps, diamonds FROM earnings.gift_credits
      WHERE diamonds < coins * share_bps / 10000 OR diamonds > (coins * share_bps + 9999) / 10000`,
  );
  for (const b of bounds) out.push(`credit ${b.gift_event_id}: ${b.diamonds} diamonds for ${b.coins} coins at ${b.share_bps} bps`);
  const creators = await query(
    `SELECT c.id, c.lifetime_diamonds::bigint AS lifetime, coalesce(sum(p.owed), 0)::bigint AS owed
       FROM earnings.creators c
       LEFT JOIN (SELECT host_id, sum(coins)::bigint * share_bps / 10000 AS owed FROM earnings.gift_credits GROUP BY host_id, share_from, share_bps) p ON p.host_id = c.id
      GROUP BY c.id HAVING c.lifetime_diamonds <> coalesce(sum(p.owed), 0)`,
  );
  for (const c of creators) out.push(`creator ${c.id}: lifetime ${c.lifetime} diamonds, floor(Σ coins × share) per period = ${c.owed}`);
  const carry = await query(
    `SELECT coalesce(k.host_id, g.host_id) AS host_id, coalesce(k.share_from, g.share_from)::text AS share_from, coalesce(k.share_bps, g.share_bps) AS share_bps,
            k.coins_total, k.diamonds_total, k.backfill_diamonds, g.coins, g.diamonds
       FROM earnings.diamond_carry k
       FULL JOIN (SELECT host_id, share_from, share_bps, sum(coins)::bigint AS coins, sum(diamonds)::bigint AS diamonds FROM earnings.gift_credits GROUP BY 1, 2, 3) g
              USING (host_id, share_from, share_bps)
      WHERE k.host_id IS NULL OR k.coins_total <> coalesce(g.coins, 0) OR k.diamonds_total <> coalesce(g.diamonds, 0) + k.backfill_diamonds
         OR k.diamonds_total <> k.coins_total * k.share_bps / 10000`,
  );
  for (const k of carry) out.push(`carry ${k.host_id} ${k.share_from} ${k.share_bps}: row ${k.coins_total} coins / ${k.diamonds_total} diamonds (+${k.backfill_diamonds} backfill), credits ${k.coins} / ${k.diamonds}`);
  return out;
}
