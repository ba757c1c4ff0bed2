import type { BucketRule } from "./token-bucket.js";

/**
 * Rate limits that hold across every instance: GCRA (the generic cell rate algorithm, a token
 * bucket stored as one timestamp) in ONE atomic PostgreSQL statement. One implementation for the
 * partner API keys (gateway/partner/keys.ts) and the subgraphs' per-user money guards
 * (platform/money-rate-limit.ts); the gateway's in-memory token buckets (platform/token-bucket.ts)
 * apply the same rules as a cheap first line, per instance.
 *
 * State is one row per limited subject: `tat`, the theoretical arrival time of the next request.
 * A request at `t` is admitted when `max(tat, t) - t <= tolerance` and then moves `tat` to
 * `max(tat, t) + interval` (interval = 1 / refill rate, tolerance = interval × (burst − 1)), so
 * at most `burst` requests are admitted at once and then one per interval. The upsert's row lock
 * makes concurrent requests, from any number of processes, see each other: the burst is exact.
 */

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

export type Query = { query(sql: string, params?: unknown[]): Promise<any> };

/** A rule as GCRA's two numbers, in seconds: `interval` between tokens, `tolerance` = interval × (burst − 1). */
export function gcraSeconds(rule: BucketRule): { interval: number; tolerance: number } {
  if (!(rule.capacity >= 1) || !(rule.refillPerSecond > 0)) throw new Error("a rate rule needs capacity >= 1 and refillPerSecond > 0");
  const interval = 1 / rule.refillPerSecond;
  return { interval, tolerance: interval * (Math.floor(rule.capacity) - 1) };
}

/**
 * GCRA state in `table` (columns: the key columns, then `tat timestamptz`, primary key = the key
 * columns). `statement_timestamp()`, not `now()`: inside a longer transaction `now()` is the
 * transaction's start, which would credit refill the request did not wait for.
 */
export class GcraTable {
  constructor(
    readonly table: string,
    readonly keyColumns: readonly string[],
  ) {}

  /**
   * The admitting upsert, alone or as a data-modifying CTE (it RETURNS a row only when admitted).
   * Placeholders from `$first`: the key columns, then interval and tolerance in seconds (see `params`).
   * `when`: an SQL condition; when false nothing is taken (e.g. "a replay, not a new operation").
   */
  admitSql(first: number, when = "true"): string {
    const keys = this.keyColumns.map((_, i) => `$${first + i}`);
    const interval = `make_interval(secs => $${first + keys.length}::float8)`;
    const tolerance = `make_interval(secs => $${first + keys.length + 1}::float8)`;
    return `INSERT INTO ${this.table} AS r (${this.keyColumns.join(", ")}, tat)
       SELECT ${keys.join(", ")}, statement_timestamp() + ${interval} WHERE ${when}
       ON CONFLICT (${this.keyColumns.join(", ")}) DO UPDATE SET tat = greatest(r.tat, statement_timestamp()) + ${interval}
         WHERE greatest(r.tat, statement_timestamp()) - statement_timestamp() <= ${tolerance}
       RETURNING 1`;
  }

  params(key: readonly unknown[], rule: BucketRule): unknown[] {
    const { interval, tolerance } = gcraSeconds(rule);
    return [...key, interval, tolerance];
  }

  /** One request now, in one statement (autocommit, or inside the caller's transaction). */
  async take(q: Query, key: readonly unknown[], rule: BucketRule): Promise<RateDecision> {
    const admitted: unknown[] = await q.query(this.admitSql(1), this.params(key, rule));
    if (admitted.length) return { allowed: true };
    return { allowed: false, retryAfterSeconds: await this.retryAfter(q, key, rule) };
  }

  /** Whole seconds until a refused subject would be admitted (at least 1). Only called after a refusal. */
  async retryAfter(q: Query, key: readonly unknown[], rule: BucketRule): Promise<number> {
    const { interval, tolerance } = gcraSeconds(rule);
    const where = this.keyColumns.map((c, i) => `${c} = $${i + 1}`).join(" AND ");
    const [row] = await q.query(
      `SELECT extract(epoch FROM (tat - statement_timestamp()))::float8 - $${this.keyColumns.length + 1} AS wait FROM ${this.table} WHERE ${where}`,
      [...key, tolerance],
    );
    return Math.max(1, Math.ceil(Number(row?.wait ?? interval)));
  }
}
