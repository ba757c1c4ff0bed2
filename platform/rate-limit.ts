import type { GraphQLError } from "graphql";
import { rateLimitError } from "./codes.js";

// Built in platform/codes.ts with every other code; re-exported for existing callers.
export { rateLimitError };

/**
 * Rate limits that hold across every instance: GCRA (the generic cell rate algorithm, a token
 * bucket stored as one timestamp) in ONE atomic PostgreSQL statement. One implementation for the
 * partner API keys (gateway/partner/keys.ts) and the subgraphs' per-user money guards; the
 * gateway's in-memory token buckets (gateway/rate-limit.ts) use the same rules as a cheap first
 * line, per instance.
 *
 * State is one row per limited subject: `tat`, the theoretical arrival time of the next request.
 * A request at `t` is admitted when `max(tat, t) - t <= tolerance` and then moves `tat` to
 * `max(tat, t) + interval` (interval = 1 / refill rate, tolerance = interval × (burst − 1)), so
 * at most `burst` requests are admitted at once and then one per interval. The upsert's row lock
 * makes concurrent requests, from any number of processes, see each other: the burst is exact.
 */

/** A token bucket: `capacity` requests at once, refilled at `refillPerSecond`. */
export interface BucketRule {
  /** Burst size. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
}

/** The money mutations limited per user, at the gateway (per instance) and in their subgraph (durable). */
export type MoneyAction = "sendGift" | "recharge" | "confirmRecharge" | "requestPayout";

/** The one set of per-user money-mutation limits (MONEY_RATE_LIMITS overrides them, platform/config.ts). */
export const MONEY_MUTATION_LIMITS: Record<MoneyAction, BucketRule> = {
  sendGift: { capacity: 50, refillPerSecond: 20 },
  recharge: { capacity: 10, refillPerSecond: 1 / 6 },
  confirmRecharge: { capacity: 10, refillPerSecond: 1 / 6 },
  requestPayout: { capacity: 5, refillPerSecond: 1 / 60 },
};

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

type Query = { query(sql: string, params?: unknown[]): Promise<any> };

/** A rule as GCRA's two numbers, in seconds: `interval` between tokens, `tolerance` = interval × (burst − 1). */
export function gcraSeconds(rule: BucketRule): { interval: number; tolerance: number } {
  return gcra(rule);
}

function gcra(rule: BucketRule): { interval: number; tolerance: number } {
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
    const { interval, tolerance } = gcra(rule);
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
    const { interval, tolerance } = gcra(rule);
    const where = this.keyColumns.map((c, i) => `${c} = $${i + 1}`).join(" AND ");
    const [row] = await q.query(
      `SELECT extract(epoch FROM (tat - statement_timestamp()))::float8 - $${this.keyColumns.length + 1} AS wait FROM ${this.table} WHERE ${where}`,
      [...key, tolerance],
    );
    return Math.max(1, Math.ceil(Number(row?.wait ?? interval)));
  }
}

/**
 * The subgraphs' per-user guard for money mutations, in the subgraph's own schema
 * (`<schema>.rate_limits`, one row per user and action). Subgraphs take the token in the
 * statement that claims the operation's idempotency key (platform/idempotency.ts, recharge), so
 * a replay or a concurrent duplicate of a key never takes one, a refused or failed operation
 * rolls its token back with everything else, and the hot path pays no extra round trip.
 */
export class MoneyRateLimiter {
  readonly store: GcraTable;

  /** This instance's rules (a copy: tests may raise one without touching the shared defaults). */
  readonly rules: Record<MoneyAction, BucketRule>;

  constructor(schema: "wallet" | "earnings", rules: Record<MoneyAction, BucketRule> = MONEY_MUTATION_LIMITS) {
    this.store = new GcraTable(`${schema}.rate_limits`, ["user_id", "action"]);
    this.rules = Object.fromEntries(Object.entries(rules).map(([k, r]) => [k, { ...r }])) as Record<MoneyAction, BucketRule>;
  }

  /** The token upsert as a CTE body for `userId`/`action`, placeholders from `$first`; see GcraTable.admitSql. */
  claimSql(first: number, when: string): string {
    return this.store.admitSql(first, when);
  }

  claimParams(userId: string, action: MoneyAction): unknown[] {
    return this.store.params([userId, action], this.rules[action]);
  }

  /** The RATE_LIMITED error for a refused claim (reads when the next token is due). */
  async refusal(q: Query, userId: string, action: MoneyAction): Promise<GraphQLError> {
    return rateLimitError(action, await this.store.retryAfter(q, [userId, action], this.rules[action]));
  }

  /** Takes one token now or throws RATE_LIMITED (for mutations without an idempotency key: confirmRecharge). */
  async guard(q: Query, userId: string, action: MoneyAction): Promise<void> {
    const decision = await this.store.take(q, [userId, action], this.rules[action]);
    if (!decision.allowed) throw rateLimitError(action, decision.retryAfterSeconds);
  }
}

/** Parses MONEY_RATE_LIMITS: `action=burst:perMinute,...` (e.g. `sendGift=50:1200,requestPayout=5:1`). */
export function parseMoneyRateLimits(raw: string | undefined, base: Record<MoneyAction, BucketRule> = MONEY_MUTATION_LIMITS): Record<MoneyAction, BucketRule> {
  const rules = { ...base };
  if (raw === undefined || raw.trim() === "") return rules;
  for (const part of raw.split(",")) {
    const m = /^\s*(\w+)\s*=\s*(\d+)\s*:\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!m || !(m[1] in base)) throw new Error(`MONEY_RATE_LIMITS: "${part}" is not <${Object.keys(base).join("|")}>=<burst>:<per minute>`);
    const capacity = Number(m[2]);
    const perMinute = Number(m[3]);
    if (!Number.isSafeInteger(capacity) || capacity < 1 || !(perMinute > 0)) throw new Error(`MONEY_RATE_LIMITS: "${part}" needs a burst >= 1 and a rate > 0`);
    rules[m[1] as MoneyAction] = { capacity, refillPerSecond: perMinute / 60 };
  }
  return rules;
}
