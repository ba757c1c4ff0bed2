import { randomUUID } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import { EventConsumer, type LoggedEvent } from "../../../platform/eventlog.js";
import { GIFT_SENT, type GiftSentPayload } from "../../../platform/events.js";
import { sendJson, type Route } from "../../../platform/http.js";
import { logger } from "../../../platform/logger.js";
import { observeEventLag } from "../../../platform/metrics.js";
import { withEventSpans } from "../../../platform/tracing.js";
import { appendToFeed, type FeedItem } from "./feed.js";
import { calendarScopes, diamondsFor, sessionScope, shareAt, type ShareRow } from "./revenue.js";
import { isUuid } from "./sessions.js";
import { rows } from "./sql.js";

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
  diamonds: number;
  comboId: string | null;
  sentAt: Date;
  /** The send's W3C trace context when well-formed (an optional payload field: a bad one is dropped, never rejected). */
  traceparent: string | null;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

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

const INT4_MAX = 2_147_483_647;
const str = (v: unknown, max = 128): v is string => typeof v === "string" && v.length > 0 && v.length <= max;
const int = (v: unknown, min: number): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= min;

/** Checks a payload against the gift.sent contract; returns why it is unusable, or null. */
export function invalidReason(p: Partial<GiftSentPayload> | null | undefined): string | null {
  if (!p || typeof p !== "object") return "payload is not an object";
  if (!str(p.giftEventId) || !isUuid(p.giftEventId)) return "giftEventId must be a uuid";
  if (!str(p.hostId)) return "hostId missing";
  if (!str(p.senderId)) return "senderId missing";
  if (typeof p.senderName !== "string") return "senderName missing";
  if (!str(p.giftId)) return "giftId missing";
  // Bounds of the columns too: an event the database would refuse must be parked, not retried forever.
  if (!int(p.quantity, 1) || p.quantity > INT4_MAX) return "quantity must be a positive 32-bit integer";
  if (!int(p.unitCost, 0)) return "unitCost must be a non-negative integer";
  if (!int(p.coins, 0) || p.coins !== p.unitCost * p.quantity) return "coins must equal unitCost × quantity";
  if (p.liveSessionId != null && !(str(p.liveSessionId) && isUuid(p.liveSessionId))) return "liveSessionId must be a uuid or null";
  if (p.comboId != null && !str(p.comboId, 200)) return "comboId must be a short string or null";
  if (typeof p.sentAt !== "string" || Number.isNaN(Date.parse(p.sentAt))) return "sentAt must be an ISO-8601 timestamp";
  return null;
}

/**
 * Applies one batch of gift.sent events in the consumer's transaction — exactly once:
 * gift_credits has the gift event id as primary key (a re-delivered event inserts nothing),
 * and EventConsumer moves the read position in this same transaction.
 *
 * Credits are aggregated per host: ONE row update per host per batch for the balance, one
 * ledger entry per host per batch, one upsert row per (host, period, sender) for the
 * leaderboards and one row update per live session — a statement count that does not grow
 * with the batch, and no hot row touched once per gift.
 */
export async function applyGiftBatch(m: EntityManager, events: LoggedEvent<GiftSentPayload>[], hooks: CreditHooks = {}): Promise<BatchResult> {
  const result: BatchResult = { credited: 0, duplicates: 0, rejected: 0, hosts: 0 };
  const valid: { e: LoggedEvent<GiftSentPayload>; p: GiftSentPayload }[] = [];
  const rejected: { id: string; position: string; reason: string; payload: unknown }[] = [];
  const seen = new Set<string>();
  for (const e of events) {
    const reason = invalidReason(e.payload);
    if (reason) {
      rejected.push({ id: e.id, position: e.position, reason, payload: e.payload });
      continue;
    }
    const id = e.payload.giftEventId.toLowerCase();
    if (seen.has(id)) {
      result.duplicates++;
      continue;
    }
    seen.add(id);
    valid.push({ e, p: e.payload });
  }
  if (rejected.length) {
    // A malformed event must not block every later gift: park it for operators and move on.
    logger.error({ rejected: rejected.map((r) => ({ id: r.id, reason: r.reason })) }, "gift.sent events rejected");
    await m.query(
      `INSERT INTO earnings.rejected_events (event_id, position, reason, payload)
       SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[]) ON CONFLICT DO NOTHING`,
      [rejected.map((r) => r.id), rejected.map((r) => r.position), rejected.map((r) => r.reason), rejected.map((r) => JSON.stringify(r.payload))],
    );
    result.rejected = rejected.length;
  }
  if (valid.length === 0) return finish();

  const hostIds = [...new Set(valid.map((v) => v.p.hostId))];
  // sendGift only sends to creators; a host unknown here (e.g. replay into a fresh database) still earns.
  await m.query(
    `INSERT INTO earnings.creators (id, display_name) SELECT h, h FROM unnest($1::text[]) AS h ON CONFLICT (id) DO NOTHING`,
    [hostIds],
  );
  const shareRows: { creator_id: string; effective_from: Date; share_bps: number }[] = await m.query(
    `SELECT creator_id, effective_from, share_bps FROM earnings.revenue_shares WHERE creator_id = ANY($1) ORDER BY creator_id, effective_from`,
    [hostIds],
  );
  const shares = new Map<string, ShareRow[]>();
  for (const r of shareRows) {
    const list = shares.get(r.creator_id) ?? [];
    list.push({ effectiveFrom: r.effective_from, shareBps: r.share_bps });
    shares.set(r.creator_id, list);
  }
  const sessionIds = [...new Set(valid.map((v) => v.p.liveSessionId?.toLowerCase()).filter((s): s is string => !!s))];
  const sessionHosts = new Map<string, string>(
    sessionIds.length
      ? (await m.query(`SELECT id::text AS id, host_id FROM earnings.live_sessions WHERE id = ANY($1::uuid[])`, [sessionIds])).map((r: any) => [r.id, r.host_id])
      : [],
  );

  const credits: Credit[] = valid.map(({ e, p }) => {
    const sentAt = new Date(p.sentAt);
    const shareBps = shareAt(shares.get(p.hostId) ?? [], sentAt);
    const sid = p.liveSessionId?.toLowerCase() ?? null;
    return {
      giftEventId: p.giftEventId.toLowerCase(),
      position: e.position,
      hostId: p.hostId,
      senderId: p.senderId,
      senderName: p.senderName.slice(0, 100),
      giftId: p.giftId,
      // A session that is not this host's is not credited with the gift (the gift still earns).
      liveSessionId: sid && sessionHosts.get(sid) === p.hostId ? sid : null,
      quantity: p.quantity,
      unitCost: p.unitCost,
      coins: p.coins,
      shareBps,
      diamonds: diamondsFor(p.coins, shareBps),
      comboId: p.comboId ?? null,
      sentAt,
      traceparent: typeof p.traceparent === "string" && TRACEPARENT.test(p.traceparent) ? p.traceparent : null,
    };
  });

  const batchId = randomUUID();
  const inserted = await rows<{ id: string }>(
    m,
    `INSERT INTO earnings.gift_credits (gift_event_id, host_id, sender_id, sender_name, gift_id, live_session_id, quantity, unit_cost, coins, share_bps, diamonds, combo_id, sent_at, batch_id, event_position)
     SELECT g, h, s, sn, gi, ls, q, uc, c, sb, d, co, sa, $14::uuid, pos
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::int[], $8::bigint[], $9::bigint[], $10::int[], $11::bigint[], $12::text[], $13::timestamptz[], $15::text[])
         AS x(g, h, s, sn, gi, ls, q, uc, c, sb, d, co, sa, pos)
     ON CONFLICT (gift_event_id) DO NOTHING
     RETURNING gift_event_id::text AS id`,
    [
      credits.map((c) => c.giftEventId),
      credits.map((c) => c.hostId),
      credits.map((c) => c.senderId),
      credits.map((c) => c.senderName),
      credits.map((c) => c.giftId),
      credits.map((c) => c.liveSessionId),
      credits.map((c) => c.quantity),
      credits.map((c) => c.unitCost),
      credits.map((c) => c.coins),
      credits.map((c) => c.shareBps),
      credits.map((c) => c.diamonds),
      credits.map((c) => c.comboId),
      credits.map((c) => c.sentAt.toISOString()),
      batchId,
      credits.map((c) => c.position),
    ],
  );
  const fresh = new Set(inserted.map((r) => r.id));
  const applied = credits.filter((c) => fresh.has(c.giftEventId));
  result.duplicates += credits.length - applied.length;
  result.credited = applied.length;
  if (applied.length === 0) return finish();

  // Leaderboards: one upsert row per (host, scope, sender); (xmax = 0) tells a new gifter.
  const board = new Map<string, { host: string; scope: string; sender: string; coins: number; gifts: number; diamonds: number; last: Date }>();
  for (const c of applied) {
    const scopes = calendarScopes(c.sentAt);
    if (c.liveSessionId) scopes.push(sessionScope(c.liveSessionId));
    for (const scope of scopes) {
      const k = `${c.hostId}\u0000${scope}\u0000${c.senderId}`;
      const b = board.get(k) ?? { host: c.hostId, scope, sender: c.senderId, coins: 0, gifts: 0, diamonds: 0, last: c.sentAt };
      b.coins += c.coins;
      b.gifts += c.quantity;
      b.diamonds += c.diamonds;
      if (c.sentAt > b.last) b.last = c.sentAt;
      board.set(k, b);
    }
  }
  const entries = [...board.values()];
  const upserted = await rows<{ scope: string; inserted: boolean }>(
    m,
    `INSERT INTO earnings.gifter_totals AS t (host_id, scope, sender_id, coins, gifts, diamonds, last_gift_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::timestamptz[])
     ON CONFLICT (host_id, scope, sender_id) DO UPDATE
        SET coins = t.coins + EXCLUDED.coins, gifts = t.gifts + EXCLUDED.gifts, diamonds = t.diamonds + EXCLUDED.diamonds,
            last_gift_at = GREATEST(t.last_gift_at, EXCLUDED.last_gift_at)
     RETURNING t.scope, (t.xmax = 0) AS inserted`,
    [
      entries.map((b) => b.host),
      entries.map((b) => b.scope),
      entries.map((b) => b.sender),
      entries.map((b) => b.coins),
      entries.map((b) => b.gifts),
      entries.map((b) => b.diamonds),
      entries.map((b) => b.last.toISOString()),
    ],
  );

  // Live sessions: one row update per session per batch.
  const perSession = new Map<string, { gifts: number; coins: number; diamonds: number; newGifters: number }>();
  for (const c of applied) {
    if (!c.liveSessionId) continue;
    const s = perSession.get(c.liveSessionId) ?? { gifts: 0, coins: 0, diamonds: 0, newGifters: 0 };
    s.gifts += c.quantity;
    s.coins += c.coins;
    s.diamonds += c.diamonds;
    perSession.set(c.liveSessionId, s);
  }
  for (const u of upserted) {
    if (u.inserted && u.scope.startsWith("S:")) perSession.get(u.scope.slice(2))!.newGifters++;
  }
  if (perSession.size) {
    const ids = [...perSession.keys()].sort();
    await m.query(
      `UPDATE earnings.live_sessions s
          SET gift_count = s.gift_count + a.g, coins_received = s.coins_received + a.c,
              diamonds_earned = s.diamonds_earned + a.d, unique_gifters = s.unique_gifters + a.n
         FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[]) AS a(id, g, c, d, n)
        WHERE s.id = a.id`,
      [ids, ids.map((i) => perSession.get(i)!.gifts), ids.map((i) => perSession.get(i)!.coins), ids.map((i) => perSession.get(i)!.diamonds), ids.map((i) => perSession.get(i)!.newGifters)],
    );
  }

  // Contract 4: the feed holds exactly the credited gifts, in commit order.
  const items: FeedItem[] = applied.map((c) => ({
    giftEventId: c.giftEventId,
    hostId: c.hostId,
    liveSessionId: c.liveSessionId,
    senderId: c.senderId,
    senderName: c.senderName,
    giftId: c.giftId,
    quantity: c.quantity,
    unitCost: c.unitCost,
    coins: c.coins,
    diamonds: c.diamonds,
    comboId: c.comboId,
    sentAt: c.sentAt,
    traceparent: c.traceparent,
  }));
  await appendToFeed(m, items);

  // Per host: one balance update and one ledger entry for the whole batch. Last, so the creator
  // rows (which requestPayout also locks) stay locked only until the COMMIT right after.
  const perHost = new Map<string, { diamonds: number; coins: number; gifts: number }>();
  for (const c of applied) {
    const h = perHost.get(c.hostId) ?? { diamonds: 0, coins: 0, gifts: 0 };
    h.diamonds += c.diamonds;
    h.coins += c.coins;
    h.gifts += c.quantity;
    perHost.set(c.hostId, h);
  }
  const hosts = [...perHost.keys()].sort();
  const balances = await rows<{ id: string; diamonds: string }>(
    m,
    `UPDATE earnings.creators c
        SET diamonds = c.diamonds + a.d, lifetime_diamonds = c.lifetime_diamonds + a.d,
            coins_received = c.coins_received + a.c, gifts_received = c.gifts_received + a.g
       FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS a(id, d, c, g)
      WHERE c.id = a.id
      RETURNING c.id, c.diamonds`,
    [hosts, hosts.map((h) => perHost.get(h)!.diamonds), hosts.map((h) => perHost.get(h)!.coins), hosts.map((h) => perHost.get(h)!.gifts)],
  );
  if (balances.length !== hosts.length) throw new Error(`credit batch ${batchId}: ${hosts.length - balances.length} hosts missing`);
  result.hosts = balances.length;
  const moved = balances.filter((b) => perHost.get(b.id)!.diamonds > 0);
  if (moved.length) {
    await m.query(
      `INSERT INTO earnings.diamond_ledger (creator_id, type, amount, balance_after, reference)
       SELECT id, 'GIFTS', amount, balance_after, $4 FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS x(id, amount, balance_after)`,
      [moved.map((b) => b.id), moved.map((b) => perHost.get(b.id)!.diamonds), moved.map((b) => b.diamonds), `gift-batch:${batchId}`],
    );
  }
  return finish();

  async function finish(): Promise<BatchResult> {
    await hooks.beforeCommit?.(m, result);
    return result;
  }
}

/** The gift.sent consumer, started in the subgraph's background hook. */
export class GiftCreditConsumer {
  readonly consumer: EventConsumer<GiftSentPayload>;
  hooks: CreditHooks = {};
  /** Totals since start (metrics, tests). */
  readonly totals: BatchResult = { credited: 0, duplicates: 0, rejected: 0, hosts: 0 };

  constructor(
    private readonly ds: DataSource,
    opts: { batchSize?: number; idleMs?: number } = {},
  ) {
    this.consumer = new EventConsumer<GiftSentPayload>(ds, {
      name: GIFT_CREDIT_CONSUMER,
      schema: "earnings",
      types: [GIFT_SENT],
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

  async start(): Promise<void> {
    const url = (this.ds.options as { url?: string }).url;
    if (!url) throw new Error("gift consumer needs the DataSource url to LISTEN");
    await this.consumer.start(url);
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** For operators (GET /consumers): events not yet applied and what this instance applied since start. */
  async status(): Promise<{ consumer: string; pendingEvents: number; oldestPendingAt: string | null; sinceStart: BatchResult }> {
    const [row] = await this.ds.query(
      `SELECT count(*)::int AS n, min(e.created_at) AS oldest FROM eventlog.events e
        WHERE e.type = $2 AND (e.tx, e.id) > (SELECT tx, id FROM earnings.consumer_positions WHERE consumer = $1)`,
      [GIFT_CREDIT_CONSUMER, GIFT_SENT],
    );
    return { consumer: GIFT_CREDIT_CONSUMER, pendingEvents: row.n, oldestPendingAt: row.oldest ? new Date(row.oldest).toISOString() : null, sinceStart: { ...this.totals } };
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
