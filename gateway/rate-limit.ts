import type { ApolloServerPlugin } from "@apollo/server";
import { collectRootFields } from "../platform/limits.js";

// Moved to platform/http.ts (the WebSocket guards need it too); re-exported for existing callers.
export { clientAddress } from "../platform/http.js";

import { rateLimitError } from "../platform/codes.js";
import { MONEY_MUTATION_LIMITS, type BucketRule } from "../platform/rate-limit.js";

export { MONEY_MUTATION_LIMITS, rateLimitError, type BucketRule };

/**
 * Per-user token buckets for money mutations. In-memory per gateway instance, a cheap first
 * line: with N instances behind a balancer a user gets up to N× the rate here, so the wallet
 * and earnings enforce the same rules durably (platform/rate-limit.ts MoneyRateLimiter, one
 * PostgreSQL row per user and action) — that is the limit that holds across instances.
 */
/**
 * Limits only the gateway keeps (in memory): mutations that move no money but write on every call.
 * sendTestGift puts a feed row on the host's stream; a host placing an overlay needs a few.
 */
export const GATEWAY_ONLY_LIMITS: Record<string, BucketRule> = {
  sendTestGift: { capacity: 20, refillPerSecond: 1 },
};

interface Bucket {
  tokens: number;
  at: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = Date.now();

  constructor(
    private readonly rules: Record<string, BucketRule> = MONEY_MUTATION_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; returns 0 when allowed, otherwise the seconds until one is available. */
  take(userId: string, action: string): number {
    const rule = this.rules[action];
    if (!rule) return 0;
    const t = this.now();
    this.sweep(t);
    const key = `${action}\0${userId}`;
    const b = this.buckets.get(key) ?? { tokens: rule.capacity, at: t };
    b.tokens = Math.min(rule.capacity, b.tokens + ((t - b.at) / 1000) * rule.refillPerSecond);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / rule.refillPerSecond));
  }

  /** Seconds until `take` would succeed (0 = now), without taking. */
  peek(userId: string, action: string): number {
    const rule = this.rules[action];
    const b = rule && this.buckets.get(`${action}\0${userId}`);
    if (!rule || !b) return 0;
    const tokens = Math.min(rule.capacity, b.tokens + ((this.now() - b.at) / 1000) * rule.refillPerSecond);
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / rule.refillPerSecond));
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Full buckets carry no information: drop them so memory tracks active users only. */
  private sweep(t: number): void {
    if (t - this.lastSweep < 60_000) return;
    this.lastSweep = t;
    for (const [key, b] of this.buckets) {
      const rule = this.rules[key.slice(0, key.indexOf("\0"))];
      if (!rule || b.tokens + ((t - b.at) / 1000) * rule.refillPerSecond >= rule.capacity) this.buckets.delete(key);
    }
  }
}

/**
 * Apollo plugin: one token per money mutation field the operation executes, per signed-in user.
 * Fields are collected as graphql-js executes them (fragments, inline fragments, @skip/@include,
 * aliases), so `... on Mutation { sendGift }` or a named fragment costs the same as `sendGift`.
 */
export function moneyRateLimitPlugin(limiter: RateLimiter, userOf: (ctx: any) => string | undefined): ApolloServerPlugin<any> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue, schema, document, request }) {
          if (operation?.operation !== "mutation") return;
          const userId = userOf(contextValue);
          if (!userId) return; // the subgraph answers UNAUTHENTICATED
          for (const field of collectRootFields(schema, document, operation, request.variables)) {
            const wait = limiter.take(userId, field);
            if (wait > 0) throw rateLimitError(field, wait);
          }
        },
      };
    },
  };
}
