import type { EntityManager } from "typeorm";
import type { Credit } from "../credits.js";
import { diamondsAdded, type SharePeriod } from "../revenue.js";
import { rows } from "../sql.js";

/**
 * Diamonds carry their remainder per (host, share period): the period's carry row is locked
 * before its gifts are priced, each gift adds floor((C + c) × share) − floor(C × share), and the
 * row advances once per batch, so credited diamonds = floor(Σ coins × share) after every commit.
 */

/** A (host, share period) carry row: the coins and diamonds credited in that period so far. */
export interface CarryRow extends SharePeriod {
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
 * changed before it took effect, or a new DEFAULT_SHARE_BPS, starts its own carry. Two statements.
 */
export async function lockCarry(m: EntityManager, credits: Credit[]): Promise<Map<string, CarryRow>> {
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

/** Sets each credit's diamonds, in consumer order, against its locked carry row (which records what the batch adds). No I/O. */
export function priceDiamonds(applied: Credit[], carry: Map<string, CarryRow>): void {
  for (const c of applied) {
    const k = carry.get(carryKey(c))!;
    c.diamonds = diamondsAdded(k.coinsTotal + k.coinsAdded, c.coins, c.shareBps);
    k.coinsAdded += BigInt(c.coins);
    k.diamondsAdded += BigInt(c.diamonds);
  }
}

/** One UPDATE for the batch: each touched carry row advances by what its gifts added (the table CHECKs the rule). */
export async function advanceCarry(m: EntityManager, carry: CarryRow[]): Promise<void> {
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
