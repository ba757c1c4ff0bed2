import type { EntityManager } from "typeorm";
import type { Credit } from "../credits.js";
import { boardSender, engagementOf, giftEngagement, type FeedEngagement, type GoalProgressSnapshot } from "../engagement.js";
import type { FeedItem } from "../feed.js";
import { applyGoalProgress } from "../goals.js";
import { applyGifterLevels } from "../levels.js";
import { applyCreatorRankings } from "../rankings.js";
import { calendarScopes, sessionScope } from "../revenue.js";
import { rows } from "../sql.js";
import { applyVideoTotals } from "../videos.js";

/**
 * What a batch of fresh credits writes, aggregated so the statement count does not grow with the
 * batch and no hot row is touched once per gift: one credits insert, one upsert row per (host,
 * scope, sender), one row update per live session, the engagement modules once each, the feed,
 * and per host one balance update and one ledger entry.
 */

/** Records the credits (one statement). Fewer rows than credits means a writer skipped the carry lock: the batch is undone and retried. */
export async function insertCredits(m: EntityManager, applied: Credit[], batchId: string): Promise<void> {
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
  // insert is refused, it lacks share_from). The diamonds would be priced on a stale total,
  // so undo everything and let the batch retry.
  if (inserted.length !== applied.length) throw new Error(`credit batch ${batchId}: ${applied.length - inserted.length} gifts were credited concurrently; retrying`);
}

interface BoardRow {
  host: string;
  scope: string;
  sender: string;
  coins: number;
  gifts: number;
  diamonds: number;
  last: Date;
}

/** Leaderboard rows: one per (host, scope, sender), sorted by that key. No I/O. */
function boardRows(applied: Credit[]): BoardRow[] {
  const board = new Map<string, BoardRow>();
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
  return [...board.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, b]) => b);
}

/** Upserts the leaderboards (one statement); returns how many new gifters each live session got ((xmax = 0) tells a new row). */
export async function upsertBoards(m: EntityManager, applied: Credit[]): Promise<Map<string, number>> {
  const entries = boardRows(applied);
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
  const newGifters = new Map<string, number>();
  for (const u of upserted) {
    if (u.inserted && u.scope.startsWith("S:")) newGifters.set(u.scope.slice(2), (newGifters.get(u.scope.slice(2)) ?? 0) + 1);
  }
  return newGifters;
}

/** Live sessions: one row update per session per batch (no statement when no gift names a session). */
export async function updateSessions(m: EntityManager, applied: Credit[], newGifters: Map<string, number>): Promise<void> {
  const perSession = new Map<string, { gifts: number; coins: number; diamonds: number }>();
  for (const c of applied) {
    if (!c.liveSessionId) continue;
    const s = perSession.get(c.liveSessionId) ?? { gifts: 0, coins: 0, diamonds: 0 };
    s.gifts += c.quantity;
    s.coins += c.coins;
    s.diamonds += c.diamonds;
    perSession.set(c.liveSessionId, s);
  }
  if (perSession.size === 0) return;
  const ids = [...perSession.keys()].sort();
  await m.query(
    `UPDATE earnings.live_sessions s
        SET gift_count = s.gift_count + a.g, coins_received = s.coins_received + a.c,
            diamonds_earned = s.diamonds_earned + a.d, unique_gifters = s.unique_gifters + a.n
       FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::int[]) AS a(id, g, c, d, n)
      WHERE s.id = a.id`,
    [ids, ids.map((i) => perSession.get(i)!.gifts), ids.map((i) => perSession.get(i)!.coins), ids.map((i) => perSession.get(i)!.diamonds), ids.map((i) => newGifters.get(i) ?? 0)],
  );
}

/** By gift event id: the goals it moved, the sender's level (and level-up) it carries. */
type GoalsByGift = Map<string, GoalProgressSnapshot[]>;
type LevelsByGift = Map<string, Partial<FeedEngagement>>;

/** Engagement (docs/engagement.md), once per batch, fresh credits only: goal progress, video totals, gifter levels, creator rankings. */
export async function applyEngagement(m: EntityManager, applied: Credit[]): Promise<{ goals: GoalsByGift; levels: LevelsByGift }> {
  const goals = await applyGoalProgress(m, applied);
  await applyVideoTotals(m, applied);
  const levels = await applyGifterLevels(m, applied);
  await applyCreatorRankings(m, applied);
  return { goals, levels };
}

/** Contract 4: the feed holds exactly the credited gifts, in commit order. No I/O (feed.ts appends them). */
export function feedItems(applied: Credit[], { goals, levels }: { goals: GoalsByGift; levels: LevelsByGift }): FeedItem[] {
  return applied.map((c) => ({
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
}

/**
 * Per host: one balance update and one ledger entry for the whole batch (two statements; the
 * entry only for hosts whose diamonds moved). Run last, so the creator rows (which requestPayout
 * also locks) stay locked only until the COMMIT right after. Returns the number of hosts credited.
 */
export async function creditHosts(m: EntityManager, applied: Credit[], batchId: string): Promise<number> {
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
  const moved = balances.filter((b) => perHost.get(b.id)!.diamonds > 0);
  if (moved.length) {
    await m.query(
      `INSERT INTO earnings.diamond_ledger (creator_id, type, amount, balance_after, reference)
       SELECT id, 'GIFTS', amount, balance_after, $4 FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS x(id, amount, balance_after)`,
      [moved.map((b) => b.id), moved.map((b) => perHost.get(b.id)!.diamonds), moved.map((b) => b.diamonds), `gift-batch:${batchId}`],
    );
  }
  return balances.length;
}
