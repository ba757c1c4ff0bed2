import type { DataSource, EntityManager } from "typeorm";
import type { Credit } from "./credits.js";
import type { FeedEngagement } from "./engagement.js";

/**
 * Gifter levels (1–50) from lifetime coins spent on gifts.
 *
 * Earnings owns the lifetime total, not the wallet: it sees every credited gift, and the level must
 * be stamped on the stream event in the same transaction that appends it — the wallet's total would
 * need a new field in the hot debit statement and would count gifts not yet credited (the level on
 * an event would run ahead of the feed). Anonymous gifts count (they count in every total).
 *
 * Exactly once: the consumer applies only freshly credited gifts; the upsert locks each sender's row
 * until commit, so two consumers (partitions) crediting the same sender serialize, and the level before
 * a batch is the committed total minus the batch. One level-up per crossing gift: the gift whose
 * running total first reaches a threshold carries `levelUp { from, to }` (several levels at once in one).
 */
export const MAX_LEVEL = 50;

/** Thresholds ascending: [level, minCoins]. */
export type Thresholds = readonly { level: number; minCoins: number }[];

export function levelFor(coins: number, t: Thresholds): number {
  let level = 1;
  for (const x of t) if (coins >= x.minCoins) level = x.level;
  return level;
}

export function coinsToNext(coins: number, t: Thresholds): number | null {
  const next = t.find((x) => x.minCoins > coins);
  return next ? next.minCoins - coins : null;
}

async function thresholds(m: EntityManager | DataSource): Promise<Thresholds> {
  const found: { level: number; min_coins: string }[] = await m.query(`SELECT level, min_coins FROM earnings.gifter_level_thresholds ORDER BY level`);
  return found.map((r) => ({ level: r.level, minCoins: Number(r.min_coins) }));
}

/** Per gift event id: the sender's level after it, and the level-up it caused (if any). Two statements per batch. */
export async function applyGifterLevels(m: EntityManager, applied: readonly Credit[]): Promise<Map<string, Partial<FeedEngagement>>> {
  const out = new Map<string, Partial<FeedEngagement>>();
  const perSender = new Map<string, number>();
  for (const c of applied) perSender.set(c.senderId, (perSender.get(c.senderId) ?? 0) + c.coins);
  if (perSender.size === 0) return out;
  const senders = [...perSender.keys()].sort();
  const totals: { sender_id: string; coins: string }[] = await m.query(
    `INSERT INTO earnings.gifter_lifetime AS t (sender_id, coins)
     SELECT * FROM unnest($1::text[], $2::bigint[])
     ON CONFLICT (sender_id) DO UPDATE SET coins = t.coins + EXCLUDED.coins, updated_at = now()
     RETURNING sender_id, coins`,
    [senders, senders.map((s) => perSender.get(s)!)],
  );
  const t = await thresholds(m);
  const running = new Map(totals.map((r) => [r.sender_id, Number(r.coins) - perSender.get(r.sender_id)!]));
  for (const c of applied) {
    const before = running.get(c.senderId)!;
    const after = before + c.coins;
    running.set(c.senderId, after);
    const from = levelFor(before, t);
    const to = levelFor(after, t);
    out.set(c.giftEventId, { senderLevel: to, levelUp: to > from ? { from, to } : null });
  }
  return out;
}

export interface GifterLevelRow {
  level: number;
  coins: number;
  coinsToNext: number | null;
}

export class GifterLevelService {
  constructor(private readonly ds: DataSource) {}

  /** Levels of many users in two queries (DataLoader batch). */
  async byUsers(ids: readonly string[]): Promise<GifterLevelRow[]> {
    const found: { sender_id: string; coins: string }[] = ids.length
      ? await this.ds.query(`SELECT sender_id, coins FROM earnings.gifter_lifetime WHERE sender_id = ANY($1)`, [[...new Set(ids)]])
      : [];
    const t = await thresholds(this.ds);
    const coins = new Map(found.map((r) => [r.sender_id, Number(r.coins)]));
    return ids.map((id) => {
      const c = coins.get(id) ?? 0;
      return { level: levelFor(c, t), coins: c, coinsToNext: coinsToNext(c, t) };
    });
  }
}
