import type { DataSource } from "typeorm";
import { badInput } from "../../../platform/errors.js";
import { ANONYMOUS_ENTRY } from "./engagement.js";
import { scopeFor, sessionScope, type LeaderboardPeriod } from "./revenue.js";

export interface TopGifterRow {
  rank: number;
  /** Null for an anonymous entry (its gifts are counted, its sender never named). */
  senderId: string | null;
  coins: number;
  gifts: number;
  anonymous: boolean;
}

export interface LeaderboardKey {
  hostId: string;
  scope: string;
  first: number;
}

export const MAX_LEADERBOARD = 100;

/**
 * Reads the leaderboard aggregates the consumer maintains (earnings.gifter_totals).
 * Order: coins descending; a tie goes to whoever reached the total first (earlier last
 * gift), then sender id so the order is total and stable.
 */
export class LeaderboardService {
  constructor(private readonly ds: DataSource) {}

  /** Many leaderboards in one query (DataLoader batch). */
  async top(keys: readonly LeaderboardKey[]): Promise<TopGifterRow[][]> {
    if (keys.length === 0) return [];
    const found: { k: number; sender_id: string; coins: string; gifts: string; rank: string }[] = await this.ds.query(
      `SELECT k.ord AS k, t.sender_id, t.coins, t.gifts, t.rank
         FROM unnest($1::text[], $2::text[], $3::int[]) WITH ORDINALITY AS k(host_id, scope, n, ord)
        CROSS JOIN LATERAL (
          SELECT g.sender_id, g.coins, g.gifts, row_number() OVER (ORDER BY g.coins DESC, g.last_gift_at, g.sender_id) AS rank
            FROM earnings.gifter_totals g
           WHERE g.host_id = k.host_id AND g.scope = k.scope
           ORDER BY g.coins DESC, g.last_gift_at, g.sender_id
           LIMIT k.n) t
        ORDER BY k.ord, t.rank`,
      [keys.map((k) => k.hostId), keys.map((k) => k.scope), keys.map((k) => k.first)],
    );
    const out: TopGifterRow[][] = keys.map(() => []);
    for (const r of found) {
      const anonymous = r.sender_id.startsWith(ANONYMOUS_ENTRY);
      out[Number(r.k) - 1].push({ rank: Number(r.rank), senderId: anonymous ? null : r.sender_id, coins: Number(r.coins), gifts: Number(r.gifts), anonymous });
    }
    return out;
  }

  /**
   * The scope a creator's leaderboard for `period` reads now. LIVE_SESSION means the
   * session the creator is live in, or their latest one when not live (null: never live).
   */
  async scopeForCreator(hostId: string, period: LeaderboardPeriod, now = new Date()): Promise<string | null> {
    if (period !== "LIVE_SESSION") return scopeFor(period, now);
    const [s] = await this.ds.query(
      `SELECT id FROM earnings.live_sessions WHERE host_id = $1 ORDER BY (status = 'LIVE') DESC, started_at DESC, id DESC LIMIT 1`,
      [hostId],
    );
    return s ? sessionScope(s.id) : null;
  }
}

export function leaderboardSize(first: number | null | undefined): number {
  const n = first ?? 10;
  if (!Number.isInteger(n) || n < 1 || n > MAX_LEADERBOARD) throw badInput(`first must be between 1 and ${MAX_LEADERBOARD}`, ["first"]);
  return n;
}
