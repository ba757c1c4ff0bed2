import type { ApolloServerPlugin } from "@apollo/server";
import { Kind, OperationTypeNode, type OperationDefinitionNode } from "graphql";

/**
 * Public, caller-independent root query fields a shared HTTP cache (browser, CDN) may keep, and for
 * how long (seconds). A new public query opts in here; everything else is never cached.
 * Prices can change within max-age: sendGift's expectedUnitCost answers PRICE_CHANGED with the new
 * price, so a cached list is never charged blindly.
 */
export const PUBLIC_QUERY_MAX_AGE_S: Readonly<Record<string, number>> = {
  gifts: 60,
  gift: 60,
  giftCategories: 300,
  catalogRegions: 300,
  coinPackages: 60,
  rechargeOptions: 60,
  creator: 10,
};

/** The max-age for an operation whose every root field is public; null when any is not. */
export function publicMaxAge(op: OperationDefinitionNode | undefined): number | null {
  if (!op || op.operation !== OperationTypeNode.QUERY) return null;
  let maxAge = Infinity;
  for (const sel of op.selectionSet.selections) {
    if (sel.kind !== Kind.FIELD) return null; // a fragment at the root: not worth analysing, not cached
    if (sel.name.value === "__typename") continue;
    const age = PUBLIC_QUERY_MAX_AGE_S[sel.name.value];
    if (age === undefined) return null;
    maxAge = Math.min(maxAge, age);
  }
  return Number.isFinite(maxAge) ? maxAge : null;
}

/**
 * `cache-control` for GraphQL GETs (persisted queries are GETs so that they can be cached): an
 * anonymous GET of public root fields that answered without errors is `public, max-age=N`; every
 * other GET is `private, no-store`. `Vary: authorization` keeps a shared cache from answering a
 * signed-in request with the anonymous copy. POSTs get no header (never cached by HTTP caches).
 */
export function publicCachePlugin<C extends { user: unknown }>(): ApolloServerPlugin<C> {
  return {
    async requestDidStart({ request }) {
      if (request.http?.method !== "GET") return;
      return {
        async willSendResponse({ response, contextValue, operation, errors }) {
          const headers = response.http.headers;
          headers.set("vary", "authorization");
          const body = response.body;
          const failed = (errors?.length ?? 0) > 0 || (body.kind === "single" && (body.singleResult.errors?.length ?? 0) > 0);
          const maxAge = contextValue.user || failed ? null : publicMaxAge(operation);
          headers.set("cache-control", maxAge !== null ? `public, max-age=${maxAge}` : "private, no-store");
        },
      };
    },
  };
}
