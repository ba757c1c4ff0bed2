import { GraphQLError, type GraphQLFormattedError } from "graphql";

/** `extensions.code` of the errors that end one subscription (the socket stays open). */
export enum StreamErrorCode {
  /** The supergraph changed: resubscribe (the query may plan differently now). */
  SchemaReloaded = "SCHEMA_RELOADED",
  /** More than the queue bound was waiting for this client: resubscribe with `after`. */
  SlowConsumer = "SLOW_CONSUMER",
  /** The owning subgraph's stream dropped (restart, deploy): resubscribe with `after`. */
  StreamInterrupted = "STREAM_INTERRUPTED",
  ShuttingDown = "SHUTTING_DOWN",
}

/** SLOW_CONSUMER with the cursor of the last event this client was given: resuming from it loses nothing. */
export function slowConsumer(why: string, cursor: string | null): GraphQLError {
  return new GraphQLError(`too slow (${why}); resubscribe with after: your last cursor`, {
    extensions: { code: StreamErrorCode.SlowConsumer, cursor },
  });
}

/** What an upstream graphql-ws `error` (GraphQL errors or a socket close) means for the client. */
export function upstreamError(err: unknown): GraphQLError {
  if (Array.isArray(err) && err.length > 0) {
    const e = err[0] as GraphQLFormattedError;
    return new GraphQLError(e.message, { extensions: e.extensions });
  }
  const close = err as { code?: number; reason?: string } | undefined;
  if (close && typeof close.code === "number") {
    return new GraphQLError(`the gift stream was interrupted (${close.code}${close.reason ? `: ${close.reason}` : ""}); resubscribe with after: your last cursor`, {
      extensions: { code: StreamErrorCode.StreamInterrupted, upstreamCloseCode: close.code },
    });
  }
  return new GraphQLError("the gift stream was interrupted; resubscribe with after: your last cursor", { extensions: { code: StreamErrorCode.StreamInterrupted } });
}
