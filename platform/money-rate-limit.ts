import type { GraphQLError } from "graphql";
import { rateLimitError } from "./codes.js";
import { GcraTable, type Query } from "./gcra-table.js";
import type { BucketRule } from "./token-bucket.js";

/**
 * Money-mutation rate limits per user: the rules per action (one set, MONEY_RATE_LIMITS overrides
 * them) and the durable guard the wallet and earnings keep in PostgreSQL (GCRA rows,
 * platform/gcra-table.ts), the limit that holds across gateway instances. The gateway's
 * per-instance first line on the same rules is gateway/money-rate-limit.ts.
 */

/** The money mutations limited per user, at the gateway (per instance) and in their subgraph (durable). */
export type MoneyAction = "sendGift" | "recharge" | "confirmRecharge" | "requestPayout";

/** The one set of per-user money-mutation limits (MONEY_RATE_LIMITS overrides them, platform/config.ts). */
export const MONEY_MUTATION_LIMITS: Record<MoneyAction, BucketRule> = {
  sendGift: { capacity: 50, refillPerSecond: 20 },
  recharge: { capacity: 10, refillPerSecond: 1 / 6 },
  confirmRecharge: { capacity: 10, refillPerSecond: 1 / 6 },
  requestPayout: { capacity: 5, refillPerSecond: 1 / 60 },
};

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
