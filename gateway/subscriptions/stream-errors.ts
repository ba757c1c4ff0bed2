import { GraphQLError, type GraphQLFormattedError } from "graphql";
import { slowConsumerError, streamError, StreamErrorCode } from "../../platform/codes.js";

// The stream codes live with every other code in platform/codes.ts; re-exported for existing callers.
export { StreamErrorCode };

/** SLOW_CONSUMER with the cursor of the last event this client was given: resuming from it loses nothing. */
export function slowConsumer(why: string, cursor: string | null): GraphQLError {
  return slowConsumerError(`too slow (${why}); resubscribe with after: your last cursor`, cursor);
}

/** What an upstream graphql-ws `error` (GraphQL errors or a socket close) means for the client. */
export function upstreamError(err: unknown): GraphQLError {
  if (Array.isArray(err) && err.length > 0) {
    // Passed on as it came (its code and extensions unchanged).
    const e = err[0] as GraphQLFormattedError;
    return new GraphQLError(e.message, { extensions: e.extensions });
  }
  const close = err as { code?: number; reason?: string } | undefined;
  if (close && typeof close.code === "number") {
    return streamError(StreamErrorCode.StreamInterrupted, `the gift stream was interrupted (${close.code}${close.reason ? `: ${close.reason}` : ""}); resubscribe with after: your last cursor`, {
      upstreamCloseCode: close.code,
    });
  }
  return streamError(StreamErrorCode.StreamInterrupted, "the gift stream was interrupted; resubscribe with after: your last cursor");
}
