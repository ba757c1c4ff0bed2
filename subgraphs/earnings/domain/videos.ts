import type { DataSource, EntityManager } from "typeorm";
import type { Credit } from "./credits.js";

/**
 * Gifts on videos (outside a live session): totals per (creator, video), one upsert row per video
 * per consumer batch from freshly credited gifts only. The video itself is owned elsewhere; the id
 * is only a reference (no catalog of videos here).
 */
export interface VideoTotalsRow {
  videoId: string;
  coins: number;
  gifts: number;
  firstGiftAt: Date;
  lastGiftAt: Date;
}

export async function applyVideoTotals(m: EntityManager, applied: readonly Credit[]): Promise<void> {
  const per = new Map<string, { host: string; video: string; coins: number; gifts: number; first: Date; last: Date }>();
  for (const c of applied) {
    if (!c.videoId) continue;
    const k = `${c.hostId}\u0000${c.videoId}`;
    const v = per.get(k) ?? { host: c.hostId, video: c.videoId, coins: 0, gifts: 0, first: c.sentAt, last: c.sentAt };
    v.coins += c.coins;
    v.gifts += c.quantity;
    if (c.sentAt < v.first) v.first = c.sentAt;
    if (c.sentAt > v.last) v.last = c.sentAt;
    per.set(k, v);
  }
  if (per.size === 0) return;
  const list = [...per.values()].sort((a, b) => (a.host + a.video < b.host + b.video ? -1 : 1));
  await m.query(
    `INSERT INTO earnings.video_gift_totals AS t (host_id, video_id, coins, gifts, first_gift_at, last_gift_at)
     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::timestamptz[])
     ON CONFLICT (host_id, video_id) DO UPDATE
        SET coins = t.coins + EXCLUDED.coins, gifts = t.gifts + EXCLUDED.gifts,
            first_gift_at = LEAST(t.first_gift_at, EXCLUDED.first_gift_at), last_gift_at = GREATEST(t.last_gift_at, EXCLUDED.last_gift_at)`,
    [list.map((v) => v.host), list.map((v) => v.video), list.map((v) => v.coins), list.map((v) => v.gifts), list.map((v) => v.first.toISOString()), list.map((v) => v.last.toISOString())],
  );
}

function toRow(r: Record<string, any>): VideoTotalsRow {
  return { videoId: r.video_id, coins: Number(r.coins), gifts: Number(r.gifts), firstGiftAt: r.first_gift_at, lastGiftAt: r.last_gift_at };
}

export class VideoTotalsService {
  constructor(private readonly ds: DataSource) {}

  async one(hostId: string, videoId: string): Promise<VideoTotalsRow | null> {
    const [r] = await this.ds.query(`SELECT * FROM earnings.video_gift_totals WHERE host_id = $1 AND video_id = $2`, [hostId, videoId]);
    return r ? toRow(r) : null;
  }

  /** The creator's videos by coins received, most first. */
  async top(hostId: string, first: number): Promise<VideoTotalsRow[]> {
    const found = await this.ds.query(`SELECT * FROM earnings.video_gift_totals WHERE host_id = $1 ORDER BY coins DESC, last_gift_at DESC, video_id LIMIT $2`, [hostId, first]);
    return found.map(toRow);
  }
}
