import type { ApolloServerPlugin } from "@apollo/server";
import { rateLimitError } from "../platform/codes.js";
import { collectRootFields } from "../platform/root-fields.js";
import type { TokenBuckets, BucketRule } from "../platform/token-bucket.js";

/**
 * The gateway's first line on money mutations: per-user token buckets (platform/token-bucket.ts),
 * in memory per gateway instance. With N instances behind a balancer a user gets up to N× the rate
 * here, so the wallet and earnings enforce the same rules durably (platform/money-rate-limit.ts
 * MoneyRateLimiter, one PostgreSQL row per user and action) — that is the limit that holds across
 * instances.
 */

/**
 * Limits only the gateway keeps (in memory): mutations that move no money but write on every call.
 * sendTestGift puts a feed row on the host's stream; a host placing an overlay needs a few.
 */
export const GATEWAY_ONLY_LIMITS: Record<string, BucketRule> = {
  sendTestGift: { capacity: 20, refillPerSecond: 1 },
};

/**
 * Apollo plugin: one token per money mutation field the operation executes, per signed-in user.
 * Fields are collected as graphql-js executes them (fragments, inline fragments, @skip/@include,
 * aliases), so `... on Mutation { sendGift }` or a named fragment costs the same as `sendGift`.
 */
export function moneyRateLimitPlugin(limiter: TokenBuckets, userOf: (ctx: any) => string | undefined): ApolloServerPlugin<any> {
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
