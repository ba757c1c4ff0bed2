import pg from "pg";

/**
 * The honest clock of the stream scenarios: when each gift event COMMITTED, read from the
 * database (`pg_xact_commit_timestamp` of the row's inserting transaction; the bench's embedded
 * PostgreSQL runs with track_commit_timestamp on), not when the sender's client got the
 * sendGift response — under load that response can arrive after the viewer already has the
 * event, which gave negative "latency" (issue #16).
 *
 * PostgreSQL and this process share the machine's wall clock; `performance.timeOrigin` maps it
 * into the `performance.now()` domain the receive stamps use. Returns null when the server does
 * not track commit timestamps (an external DATABASE_URL without the setting): callers then say so
 * and fall back to the response stamps.
 */
export async function commitTimes(databaseUrl: string, giftEventIds: string[]): Promise<Map<string, number> | null> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ id: string; at_ms: number }>(
      `SELECT id::text, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000)::float8 AS at_ms
         FROM wallet.gift_events WHERE id = ANY($1::uuid[])`,
      [giftEventIds],
    );
    const out = new Map<string, number>();
    for (const r of rows) if (r.at_ms !== null) out.set(r.id, r.at_ms - performance.timeOrigin);
    return out.size === giftEventIds.length || giftEventIds.length === 0 ? out : null;
  } catch {
    return null; // "could not get commit timestamp data": track_commit_timestamp is off
  } finally {
    await c.end();
  }
}

/** Where "commit" came from: the database's commit timestamps, or the sendGift responses (fallback). */
export type CommitClock = "database commit timestamp" | "sendGift response" | "anchor publish";

/** Commit instants from the database when it has them, else the response stamps. */
export async function commitClock(databaseUrl: string, responded: Map<string, number>): Promise<{ at: Map<string, number>; clock: CommitClock }> {
  const db = await commitTimes(databaseUrl, [...responded.keys()]);
  return db ? { at: db, clock: "database commit timestamp" } : { at: responded, clock: "sendGift response" };
}

/** Receive instant − commit instant of every received id that has one (ms). */
export function latencies(committed: Map<string, number>, received: { id: string; at: number }[]): number[] {
  const out: number[] = [];
  for (const r of received) {
    const c = committed.get(r.id);
    if (c !== undefined) out.push(r.at - c);
  }
  return out;
}
