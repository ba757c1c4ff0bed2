import type { Fetcher } from "@apollo/utils.fetcher";
import { GraphQLError } from "graphql";

/**
 * Subgraph fetches: Node's fetch (undici, keep-alive pooling), a hard timeout, and no
 * retries — a retried mutation could move money twice. Failures become typed errors.
 */
export function subgraphFetcher(serviceName: string, timeoutMs: number): Fetcher {
  return async (url, init) => {
    try {
      return (await fetch(url, { ...(init as RequestInit), signal: AbortSignal.timeout(timeoutMs) })) as unknown as Awaited<ReturnType<Fetcher>>;
    } catch (e) {
      const timedOut = (e as Error).name === "TimeoutError";
      throw new GraphQLError(timedOut ? `${serviceName} did not answer within ${timeoutMs} ms` : `${serviceName} is unavailable`, {
        extensions: { code: timedOut ? "SUBGRAPH_TIMEOUT" : "SUBGRAPH_UNAVAILABLE", serviceName },
      });
    }
  };
}
