import type { ApolloServerPlugin } from "@apollo/server";
import { GraphQLErrorCode } from "../platform/codes.js";

/**
 * How a subgraph's client errors reach the client.
 *
 * Apollo Server answers a request it refuses as a whole (a literal that fails a scalar's
 * parsing, a variable that fails coercion, RATE_LIMITED, UNAUTHENTICATED) with HTTP 4xx and a
 * GraphQL body whose errors carry a code. @apollo/gateway's RemoteGraphQLDataSource treats any
 * non-2xx answer as a transport failure ("400: Bad Request", no code), which the gateway's error
 * mask then turns into INTERNAL_SERVER_ERROR: the client never learns what it did wrong. So a 4xx
 * whose body is a GraphQL response with coded errors is handed to the gateway as the GraphQL
 * response it is (status 200), and the gateway merges those errors as it does for any field
 * error, message and code intact (plus `serviceName`). Anything else (5xx, HTML, errors without
 * a code) stays a failure and is masked.
 */
export function subgraphClientErrorStatus(status: number, contentType: string | undefined, body: Buffer): number {
  if (status < 400 || status >= 500 || !contentType || !/^application\/(graphql-response\+)?json/.test(contentType)) return status;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString("utf8"));
  } catch {
    return status;
  }
  const errors = (parsed as { errors?: unknown } | null)?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return status;
  const coded = errors.every((e) => typeof e?.extensions?.code === "string" && typeof e?.message === "string");
  return coded ? 200 : status;
}

/**
 * A RATE_LIMITED error from a subgraph (its durable per-user guard, platform/money-rate-limit.ts)
 * answers the way the gateway's own limiter does: HTTP 429 with `Retry-After`, so a client
 * sees one shape whichever guard refused it.
 */
export function subgraphRateLimitStatusPlugin(): ApolloServerPlugin<any> {
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ response }) {
          if (response.body.kind !== "single") return;
          const waits = (response.body.singleResult.errors ?? [])
            .filter((e) => e.extensions?.code === GraphQLErrorCode.RateLimited)
            .map((e) => Number(e.extensions?.retryAfterSeconds));
          if (waits.length === 0) return;
          const wait = Math.max(1, ...waits.filter(Number.isFinite));
          response.http.status = 429;
          response.http.headers.set("retry-after", String(wait));
        },
      };
    },
  };
}
