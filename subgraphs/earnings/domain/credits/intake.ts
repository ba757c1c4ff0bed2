import type { EntityManager } from "typeorm";
import type { LoggedEvent } from "../../../../platform/eventlog.js";
import type { GiftSentPayload } from "../../../../platform/events.js";
import { logger } from "../../../../platform/logger.js";
import type { Credit } from "../credits.js";
import { invalidEngagement } from "../engagement.js";
import { periodAt, type ShareRow } from "../revenue.js";
import { isUuid } from "../sessions.js";
import { rows } from "../sql.js";

/** A batch's first steps: check each event against the gift.sent contract, then turn the good ones into credits. */

const INT4_MAX = 2_147_483_647;
const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
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

export interface ValidGift {
  e: LoggedEvent<GiftSentPayload>;
  p: GiftSentPayload;
}

interface Rejected {
  id: string;
  position: string;
  reason: string;
  payload: unknown;
}

/** Splits a batch into usable gifts (the first of each gift event id), rejected events and in-batch duplicates. No I/O. */
export function validateBatch(events: LoggedEvent<GiftSentPayload>[]): { valid: ValidGift[]; rejected: Rejected[]; duplicates: number } {
  const valid: ValidGift[] = [];
  const rejected: Rejected[] = [];
  const seen = new Set<string>();
  let duplicates = 0;
  for (const e of events) {
    const reason = invalidReason(e.payload);
    if (reason) {
      rejected.push({ id: e.id, position: e.position, reason, payload: e.payload });
      continue;
    }
    const id = e.payload.giftEventId.toLowerCase();
    if (seen.has(id)) {
      duplicates++;
      continue;
    }
    seen.add(id);
    valid.push({ e, p: e.payload });
  }
  return { valid, rejected, duplicates };
}

/** A malformed event must not block every later gift: park it for operators and move on. One statement. */
export async function parkRejected(m: EntityManager, rejected: Rejected[]): Promise<void> {
  logger.error({ rejected: rejected.map((r) => ({ id: r.id, reason: r.reason })) }, "gift.sent events rejected");
  await m.query(
    `INSERT INTO earnings.rejected_events (event_id, position, reason, payload)
     SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[]) ON CONFLICT DO NOTHING`,
    [rejected.map((r) => r.id), rejected.map((r) => r.position), rejected.map((r) => r.reason), rejected.map((r) => JSON.stringify(r.payload))],
  );
}

/** The batch's gifts as credits (diamonds still 0): its hosts exist, each gift has its share period and a session that is its host's. Three statements. */
export async function creditsFor(m: EntityManager, valid: ValidGift[]): Promise<Credit[]> {
  const hostIds = [...new Set(valid.map((v) => v.p.hostId))].sort(); // sorted: concurrent batches insert (lock) new creators in one order
  await ensureCreators(m, hostIds);
  const shares = await shareHistories(m, hostIds);
  const sessionHosts = await hostsOfSessions(m, valid);
  return valid.map((v) => toCredit(v, shares, sessionHosts));
}

/** sendGift only sends to creators; a host unknown here (e.g. replay into a fresh database) still earns. */
async function ensureCreators(m: EntityManager, hostIds: string[]): Promise<void> {
  await m.query(
    `INSERT INTO earnings.creators (id, display_name) SELECT h, h FROM unnest($1::text[]) AS h ON CONFLICT (id) DO NOTHING`,
    [hostIds],
  );
}

async function shareHistories(m: EntityManager, hostIds: string[]): Promise<Map<string, ShareRow[]>> {
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
  return shares;
}

/** session id → its host, for the sessions the batch names (no statement when it names none). */
async function hostsOfSessions(m: EntityManager, valid: ValidGift[]): Promise<Map<string, string>> {
  const sessionIds = [...new Set(valid.map((v) => v.p.liveSessionId?.toLowerCase()).filter((s): s is string => !!s))];
  if (sessionIds.length === 0) return new Map();
  const found = await m.query(`SELECT id::text AS id, host_id FROM earnings.live_sessions WHERE id = ANY($1::uuid[])`, [sessionIds]);
  return new Map<string, string>(found.map((r: any) => [r.id, r.host_id]));
}

function toCredit({ e, p }: ValidGift, shares: Map<string, ShareRow[]>, sessionHosts: Map<string, string>): Credit {
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
}

/** The credits not yet applied (gift_credits is keyed by gift event id). Run after the carry rows are locked: a concurrent batch with the same gift has committed by then. */
export async function notYetCredited(m: EntityManager, credits: Credit[]): Promise<Credit[]> {
  const already = new Set(
    (await rows<{ id: string }>(m, `SELECT gift_event_id::text AS id FROM earnings.gift_credits WHERE gift_event_id = ANY($1::uuid[])`, [credits.map((c) => c.giftEventId)])).map(
      (r) => r.id,
    ),
  );
  return credits.filter((c) => !already.has(c.giftEventId));
}
