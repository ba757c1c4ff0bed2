import { randomUUID } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import type { LoggedEvent } from "../../../platform/eventlog.js";
import { PostgresEventLog } from "../../../platform/eventlog/postgres.js";
import type { EventLog, EventLogConsumer } from "../../../platform/eventlog/types.js";
import { GIFT_SENT, type GiftSentPayload } from "../../../platform/events.js";
import { sendJson, type Route } from "../../../platform/http.js";
import { logger } from "../../../platform/logger.js";
import { boardSender, engagementOf, giftEngagement, invalidEngagement } from "./engagement.js";
import { observeEventLag } from "../../../platform/metrics.js";
import { withEventSpans } from "../../../platform/tracing.js";
import { appendToFeed, type FeedItem } from "./feed.js";
import { applyGoalProgress } from "./goals.js";
import { applyVideoTotals } from "./videos.js";
import { applyGifterLevels } from "./levels.js";
import { applyCreatorRankings } from "./rankings.js";
import { calendarScopes, diamondsAdded, periodAt, sessionScope, type SharePeriod, type ShareRow } from "./revenue.js";
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
  return invalidEngagement(p);
}

/**
 * Applies one batch of gift.sent events in the consumer's transaction — exactly once:
 * gift_credits has the gift event id as primary key (a re-delivered event inserts nothing),
 * and EventConsumer moves the read position in this same transaction.
 *
 * Diamonds carry their remainder per (host, share period): the period's carry row is locked
 * before its gifts are priced, each gift adds floor((C + c) × share) − floor(C × share), and the
 * row advances once per batch, so credited diamonds = floor(Σ coins × share) after every commit.
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

  const hostIds = [...new Set(valid.map((v) => v.p.hostId))].sort(); // sorted: concurrent batches insert (lock) new creators in one order
  // sendGift only sends to creators; a host unknown here (e.g. replay into a fresh database) still earns.
  await m.query(
    `INSERT INTO earnings.creators (id, display_name) SELECT h, h FROM unnest($1::text[]) AS h ON CONFLICT (id) DO NOTHING`,
    [hostIds],
  );
  const shareRows: { creator_id: string; effective_from: Date; from_key: string; share_bps: number }[] = await m.query(
    // from_key: the exact stored value (a JS Date drops microseconds) that keys the period's carry row.
    `SELECT creator_id, effective_from, effective_from::text AS from_key, share_bps FROM earnings.revenue_shares WHERE creator_id = ANY($1) ORDER BY creator_id, effective_from`,
    [hostIds],
  );
  const shares = new Map<string, ShareRow[]>();
  for (const r of shareRows) {
    const list = shares.get(r.creator_id) ?? [];
    list.push({ effectiveFrom: r.effective_from, shareBps: r.share_bps, fromKey: r.from_key });
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
    // The period is decided by sentAt, never by when the gift is credited (DECISIONS 29).
    const period = periodAt(shares.get(p.hostId) ?? [], sentAt);
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
      shareBps: period.shareBps,
      shareFrom: period.from,
      diamonds: 0,
      comboId: p.comboId ?? null,
      sentAt,
      message: p.message ?? null,
      anonymous: p.anonymous === true,
      videoId: p.videoId ?? null,
      traceparent: typeof p.traceparent === "string" && TRACEPARENT.test(p.traceparent) ? p.traceparent : null,
    };
  });

  // Lock every (host, share period) carry row this batch touches, then price the gifts not yet
  // credited against it. Every gift of a period takes that row's lock first, so a concurrent
  // batch with the same gift waits here and then sees it credited below.
  const carry = await lockCarry(m, credits);
  const already = new Set(
    (await rows<{ id: string }>(m, `SELECT gift_event_id::text AS id FROM earnings.gift_credits WHERE gift_event_id = ANY($1::uuid[])`, [credits.map((c) => c.giftEventId)])).map(
      (r) => r.id,
    ),
  );
  const applied = credits.filter((c) => !already.has(c.giftEventId));
  result.duplicates += credits.length - applied.length;
  result.credited = applied.length;
  if (applied.length === 0) return finish();
  // In consumer order: each gift adds floor((before + coins) × share) − floor(before × share).
  for (const c of applied) {
    const k = carry.get(carryKey(c))!;
    c.diamonds = diamondsAdded(k.coinsTotal + k.coinsAdded, c.coins, c.shareBps);
    k.coinsAdded += BigInt(c.coins);
    k.diamondsAdded += BigInt(c.diamonds);
  }

  const batchId = randomUUID();
  const inserted = await rows<{ id: string }>(
    m,
    `INSERT INTO earnings.gift_credits (gift_event_id, host_id, sender_id, sender_name, gift_id, live_session_id, quantity, unit_cost, coins, share_bps, diamonds, combo_id, sent_at, batch_id, event_position, share_from)
     SELECT g, h, s, sn, gi, ls, q, uc, c, sb, d, co, sa, $14::uuid, pos, sf
       FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::int[], $8::bigint[], $9::bigint[], $10::int[], $11::bigint[], $12::text[], $13::timestamptz[], $15::text[], $16::timestamptz[])
         AS x(g, h, s, sn, gi, ls, q, uc, c, sb, d, co, sa, pos, sf)
     ON CONFLICT (gift_event_id) DO NOTHING
     RETURNING gift_event_id::text AS id`,
    [
      applied.map((c) => c.giftEventId),
      applied.map((c) => c.hostId),
      applied.map((c) => c.senderId),
      applied.map((c) => c.senderName),
      applied.map((c) => c.giftId),
      applied.map((c) => c.liveSessionId),
      applied.map((c) => c.quantity),
      applied.map((c) => c.unitCost),
      applied.map((c) => c.coins),
      applied.map((c) => c.shareBps),
      applied.map((c) => c.diamonds),
      applied.map((c) => c.comboId),
      applied.map((c) => c.sentAt.toISOString()),
      batchId,
      applied.map((c) => c.position),
      applied.map((c) => c.shareFrom),
    ],
  );
  // Only a writer that skipped the carry lock could get here (none does: even the previous version's
  // insert is refused, it lacks share_from). The diamonds above would be priced on a stale total,
  // so undo everything and let the batch retry.
  if (inserted.length !== applied.length) throw new Error(`credit batch ${batchId}: ${applied.length - inserted.length} gifts were credited concurrently; retrying`);
  await advanceCarry(m, [...carry.values()]);

  // Leaderboards: one upsert row per (host, scope, sender); (xmax = 0) tells a new gifter.
  const board = new Map<string, { host: string; scope: string; sender: string; coins: number; gifts: number; diamonds: number; last: Date }>();
  for (const c of applied) {
    const scopes = calendarScopes(c.sentAt);
    if (c.liveSessionId) scopes.push(sessionScope(c.liveSessionId));
    for (const scope of scopes) {
      const k = `${c.hostId}\u0000${scope}\u0000${boardSender(c)}`;
      const b = board.get(k) ?? { host: c.hostId, scope, sender: boardSender(c), coins: 0, gifts: 0, diamonds: 0, last: c.sentAt };
      b.coins += c.coins;
      b.gifts += c.quantity;
      b.diamonds += c.diamonds;
      if (c.sentAt > b.last) b.last = c.sentAt;
      board.set(k, b);
    }
  }
  // In key order, like every other lock this batch takes, so concurrent batches cannot deadlock.
  const entries = [...board.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, b]) => b);
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

  // Engagement (docs/engagement.md), batched per batch, fresh credits only: goal progress.
  const goals = await applyGoalProgress(m, applied);
  await applyVideoTotals(m, applied);
  const levels = await applyGifterLevels(m, applied);
  await applyCreatorRankings(m, applied);

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
    engagement: engagementOf({ goals: goals.get(c.giftEventId) }, giftEngagement(c), levels.get(c.giftEventId)),
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

/** A (host, share period) carry row: the coins and diamonds credited in that period so far. */
interface CarryRow extends SharePeriod {
  hostId: string;
  coinsTotal: bigint;
  diamondsTotal: bigint;
  /** Added by this batch (written by advanceCarry). */
  coinsAdded: bigint;
  diamondsAdded: bigint;
}

const carryKey = (c: { hostId: string; shareFrom: string; shareBps: number }) => `${c.hostId}\u0000${c.shareFrom}\u0000${c.shareBps}`;

/**
 * Creates the batch's missing carry rows and locks them all (FOR UPDATE), in key order so two
 * batches for the same host never deadlock. The share is part of the key: a scheduled share
 * changed before it took effect, or a new DEFAULT_SHARE_BPS, starts its own carry.
 */
async function lockCarry(m: EntityManager, credits: Credit[]): Promise<Map<string, CarryRow>> {
  const keys = [...new Map(credits.map((c) => [carryKey(c), c] as const)).entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, c]) => c);
  const params = [keys.map((c) => c.hostId), keys.map((c) => c.shareFrom), keys.map((c) => c.shareBps)];
  await m.query(
    `INSERT INTO earnings.diamond_carry (host_id, share_from, share_bps)
     SELECT h, f, b FROM unnest($1::text[], $2::timestamptz[], $3::int[]) WITH ORDINALITY AS k(h, f, b, i) ORDER BY k.i
     ON CONFLICT DO NOTHING`,
    params,
  );
  const locked = await rows<{ i: string; coins_total: string; diamonds_total: string }>(
    m,
    `SELECT k.i, c.coins_total, c.diamonds_total
       FROM earnings.diamond_carry c
       JOIN unnest($1::text[], $2::timestamptz[], $3::int[]) WITH ORDINALITY AS k(h, f, b, i) ON c.host_id = k.h AND c.share_from = k.f AND c.share_bps = k.b
      ORDER BY k.i
        FOR UPDATE OF c`,
    params,
  );
  if (locked.length !== keys.length) throw new Error(`carry rows: locked ${locked.length} of ${keys.length}`);
  const carry = new Map<string, CarryRow>();
  for (const r of locked) {
    const c = keys[Number(r.i) - 1];
    carry.set(carryKey(c), {
      hostId: c.hostId,
      from: c.shareFrom,
      shareBps: c.shareBps,
      coinsTotal: BigInt(r.coins_total),
      diamondsTotal: BigInt(r.diamonds_total),
      coinsAdded: 0n,
      diamondsAdded: 0n,
    });
  }
  return carry;
}

/** One UPDATE for the batch: each touched carry row advances by what its gifts added (the table CHECKs the rule). */
async function advanceCarry(m: EntityManager, carry: CarryRow[]): Promise<void> {
  const moved = carry.filter((k) => k.coinsAdded > 0n || k.diamondsAdded > 0n);
  if (moved.length === 0) return;
  await m.query(
    `UPDATE earnings.diamond_carry c
        SET coins_total = c.coins_total + a.c, diamonds_total = c.diamonds_total + a.d, updated_at = now()
       FROM unnest($1::text[], $2::timestamptz[], $3::int[], $4::bigint[], $5::bigint[]) AS a(h, f, b, c, d)
      WHERE c.host_id = a.h AND c.share_from = a.f AND c.share_bps = a.b`,
    [moved.map((k) => k.hostId), moved.map((k) => k.from), moved.map((k) => k.shareBps), moved.map((k) => k.coinsAdded.toString()), moved.map((k) => k.diamondsAdded.toString())],
  );
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
