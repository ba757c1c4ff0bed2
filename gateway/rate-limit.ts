import { GraphQLError, Kind } from "graphql";
import type { ApolloServerPlugin } from "@apollo/server";
import type { IncomingMessage } from "node:http";

/**
 * Per-user token buckets for money mutations. In-memory per gateway instance: with N
 * instances behind a balancer a user gets at most N× the rate — the wallet's own
 * velocity limits (orders per hour, amount per day) are the durable, global guard.
 */
export interface BucketRule {
  /** Burst size. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
}

export const MONEY_MUTATION_LIMITS: Record<string, BucketRule> = {
  sendGift: { capacity: 50, refillPerSecond: 20 },
  recharge: { capacity: 10, refillPerSecond: 1 / 6 },
  confirmRecharge: { capacity: 10, refillPerSecond: 1 / 6 },
  requestPayout: { capacity: 5, refillPerSecond: 1 / 60 },
  // Moves no money, but writes a feed row per call: bounded like the rest (a host placing an overlay needs a few).
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
 * The client's address for per-address limits: the socket's peer, or, behind `trustedProxyHops`
 * proxies (TRUST_PROXY_HOPS), the address the outermost trusted one saw (X-Forwarded-For read from
 * the right, so a client cannot pick its own).
 */
export function clientAddress(req: IncomingMessage, trustedProxyHops = Number(process.env.TRUST_PROXY_HOPS ?? 0)): string {
  const peer = req.socket.remoteAddress ?? "unknown";
  if (!(trustedProxyHops > 0)) return peer;
  const forwarded = String(req.headers["x-forwarded-for"] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustedProxyHops] ?? forwarded[0] ?? peer;
}

export function rateLimitError(action: string, retryAfterSeconds: number): GraphQLError {
  return new GraphQLError(`too many ${action} requests; retry in ${retryAfterSeconds}s`, {
    extensions: { code: "RATE_LIMITED", retryAfterSeconds, http: { status: 429, headers: new Map([["retry-after", String(retryAfterSeconds)]]) } },
  });
}

/** Apollo plugin: one token per money mutation field in the operation, per signed-in user. */
export function moneyRateLimitPlugin(limiter: RateLimiter, userOf: (ctx: any) => string | undefined): ApolloServerPlugin<any> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          if (operation?.operation !== "mutation") return;
          const userId = userOf(contextValue);
          if (!userId) return; // the subgraph answers UNAUTHENTICATED
          for (const sel of operation.selectionSet.selections) {
            if (sel.kind !== Kind.FIELD) continue;
            const wait = limiter.take(userId, sel.name.value);
            if (wait > 0) throw rateLimitError(sel.name.value, wait);
          }
        },
      };
    },
  };
}
