import type { DataSource, EntityManager } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { badInput } from "../../../platform/errors.js";
import type { Credit } from "./credits.js";
import { ANONYMOUS_ENTRY } from "./engagement.js";
import { calendarScopes, scopeFor, sessionScope, type LeaderboardPeriod } from "./revenue.js";

/**
 * Leaderboards that remember, a viewer's own rank, and creator rankings across hosts.
 *
 * Past periods need no snapshots: the aggregates are keyed by calendar bucket (D:2026-11-30,
 * W:2026-11-23, M:2026-11), so the board of the week containing `at` is a plain read of that bucket
 * and cannot change after the week ends (only gifts sent in it are added to it, by sentAt).
 */
const EARLIEST = Date.UTC(2020, 0, 1);

/** The moment a board is read for: now, or a past moment (at most a day ahead for clock skew). */
export function boardMoment(at: Date | null | undefined, now = new Date()): Date {
  if (at === null || at === undefined) return now;
  if (!(at instanceof Date) || Number.isNaN(at.getTime()) || at.getTime() < EARLIEST || at.getTime() > now.getTime() + 86_400_000) {
    throw badInput("at must be a date-time between 2020-01-01 and tomorrow", ["at"]);
  }
  return at;
}

/** The aggregate bucket for a creator's board at `at`; LIVE_SESSION = the session live at `at` (or the latest before it). */
export async function boardScope(ds: DataSource, hostId: string, period: LeaderboardPeriod, at: Date, explicit: boolean): Promise<string | null> {
  if (period !== "LIVE_SESSION") return scopeFor(period, at);
  const [s] = explicit
    ? await ds.query(`SELECT id FROM earnings.live_sessions WHERE host_id = $1 AND started_at <= $2 ORDER BY started_at DESC, id DESC LIMIT 1`, [hostId, at])
    : await ds.query(`SELECT id FROM earnings.live_sessions WHERE host_id = $1 ORDER BY (status = 'LIVE') DESC, started_at DESC, id DESC LIMIT 1`, [hostId]);
  return s ? sessionScope(s.id) : null;
}

/** Per (calendar scope, host): one upsert per batch. */
export async function applyCreatorRankings(m: EntityManager, applied: readonly Credit[]): Promise<void> {
  const per = new Map<string, { scope: string; host: string; diamonds: number; coins: number; last: Date }>();
  for (const c of applied) {
    for (const scope of calendarScopes(c.sentAt)) {
      const k = `${scope}\u0000${c.hostId}`;
      const v = per.get(k) ?? { scope, host: c.hostId, diamonds: 0, coins: 0, last: c.sentAt };
      v.diamonds += c.diamonds;
      v.coins += c.coins;
      if (c.sentAt > v.last) v.last = c.sentAt;
      per.set(k, v);
    }
  }
  if (per.size === 0) return;
  const list = [...per.values()].sort((a, b) => (a.scope + a.host < b.scope + b.host ? -1 : 1));
  await m.query(
    `INSERT INTO earnings.creator_period_totals AS t (scope, creator_id, diamonds, coins, last_gift_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[])
     ON CONFLICT (scope, creator_id) DO UPDATE
        SET diamonds = t.diamonds + EXCLUDED.diamonds, coins = t.coins + EXCLUDED.coins, last_gift_at = GREATEST(t.last_gift_at, EXCLUDED.last_gift_at)`,
    [list.map((v) => v.scope), list.map((v) => v.host), list.map((v) => v.diamonds), list.map((v) => v.coins), list.map((v) => v.last.toISOString())],
  );
}

export interface CreatorRankingRow {
  rank: number;
  creatorId: string;
  diamonds: number;
}

export class RankingService {
  constructor(private readonly ds: DataSource) {}

  /**
   * "You are #12": the rank of `userId`'s named entry on the board (same order as topGifters).
   * The user themselves and admins also get their anonymous entry's rank (the better of the two);
   * anyone else gets only the named one, so a rank never reveals an anonymous gift. Null: unranked.
   */
  async gifterRank(hostId: string, scope: string, userId: string, viewer: AuthUser | null | undefined): Promise<number | null> {
    const self = !!viewer && (viewer.id === userId || viewer.roles.includes("admin"));
    const ids = self ? [userId, `${ANONYMOUS_ENTRY}${userId}`] : [userId];
    const [r] = await this.ds.query(
      `SELECT min(1 + (SELECT count(*) FROM earnings.gifter_totals o
                        WHERE o.host_id = g.host_id AND o.scope = g.scope
                          AND (o.coins, g.last_gift_at, g.sender_id) > (g.coins, o.last_gift_at, o.sender_id)))::int AS rank
         FROM earnings.gifter_totals g WHERE g.host_id = $1 AND g.scope = $2 AND g.sender_id = ANY($3)`,
      [hostId, scope, ids],
    );
    return r?.rank ?? null;
  }

  /** Creators by diamonds earned in the period (platform-wide or in one region); ties to whoever got there first. */
  async creators(period: Exclude<LeaderboardPeriod, "LIVE_SESSION">, region: string | null, at: Date, first: number): Promise<CreatorRankingRow[]> {
    const found = await this.ds.query(
      `SELECT t.creator_id, t.diamonds, row_number() OVER (ORDER BY t.diamonds DESC, t.last_gift_at, t.creator_id) AS rank
         FROM earnings.creator_period_totals t JOIN earnings.creators c ON c.id = t.creator_id
        WHERE t.scope = $1 AND t.diamonds > 0 AND ($2::text IS NULL OR c.region = $2)
        ORDER BY t.diamonds DESC, t.last_gift_at, t.creator_id LIMIT $3`,
      [scopeFor(period, at), region, first],
    );
    return found.map((r: any) => ({ rank: Number(r.rank), creatorId: r.creator_id, diamonds: Number(r.diamonds) }));
  }
}
