import { GraphQLError, type ASTNode } from "graphql";

/**
 * Every code a client can see on the wire, in one place, with the factories that build the
 * errors carrying them (like graphql-ws's `common.ts`). Three families:
 *  - `GraphQLErrorCode`, `LimitCode`: `extensions.code` of GraphQL errors (a request or field refused or failed);
 *  - `StreamErrorCode`: `extensions.code` of the errors that end one subscription (the socket stays open);
 *  - `WsCloseCode`: WebSocket close codes (the socket ends).
 * Business failures are not here: they are `userErrors` with an `ErrorCode`, the GraphQL enum in
 * platform/errors.ts (append-only, part of the schema, each with its description). Domain code
 * throws DomainError, InputError (BAD_USER_INPUT: `badInput()`) or UnavailableError (errors.ts),
 * never the GraphQL errors built here.
 * Codes are wire contract: never rename a value; messages are for humans and may change.
 */

/** `extensions.code` of GraphQL errors raised here (Apollo's own codes included where we raise them too). */
export enum GraphQLErrorCode {
  /** No credential, or an invalid or expired one (HTTP 401 when it refuses the whole request). */
  Unauthenticated = "UNAUTHENTICATED",
  /** Authenticated, but not allowed this. */
  Forbidden = "FORBIDDEN",
  /** Malformed input a client sent (an id's shape, a page size, a timestamp): fix it, do not retry. */
  BadUserInput = "BAD_USER_INPUT",
  /** A request that is not a GraphQL request we serve (bad JSON, a query over WebSocket, a subscription over HTTP). */
  BadRequest = "BAD_REQUEST",
  GraphQLParseFailed = "GRAPHQL_PARSE_FAILED",
  GraphQLValidationFailed = "GRAPHQL_VALIDATION_FAILED",
  /** An object named by an argument does not exist (reads; mutations answer NOT_FOUND as a userError). */
  NotFound = "NOT_FOUND",
  /** Over a rate limit: `retryAfterSeconds` (and HTTP 429 + Retry-After on a refused request). */
  RateLimited = "RATE_LIMITED",
  /** Larger than MAX_BODY_BYTES (HTTP 413). */
  PayloadTooLarge = "PAYLOAD_TOO_LARGE",
  /** Temporarily unavailable (database overload, an owner read failed, the partner API unconfigured): retry. */
  ServiceUnavailable = "SERVICE_UNAVAILABLE",
  /** Unexpected: masked with a request id (platform/http.ts formatError). */
  InternalServerError = "INTERNAL_SERVER_ERROR",
  /** Gateway: a subgraph fetch exceeded SUBGRAPH_TIMEOUT_MS. */
  SubgraphTimeout = "SUBGRAPH_TIMEOUT",
  /** Gateway: a subgraph could not be reached or dropped the connection. */
  SubgraphUnavailable = "SUBGRAPH_UNAVAILABLE",
}

/** Operation limits (platform/operation-limits.ts): HTTP 400 on a request, the same codes without a status over WebSocket. */
export enum LimitCode {
  QUERY_TOO_DEEP = "QUERY_TOO_DEEP",
  TOO_MANY_ALIASES = "TOO_MANY_ALIASES",
  TOO_MANY_TOKENS = "TOO_MANY_TOKENS",
  QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX",
  BATCH_TOO_LARGE = "BATCH_TOO_LARGE",
  /** WebSocket only: more than WS_MAX_SUBSCRIPTIONS_PER_SOCKET active on one socket (the socket stays open). */
  TOO_MANY_SUBSCRIPTIONS = "TOO_MANY_SUBSCRIPTIONS",
}

/** `extensions.code` of the errors that end one subscription (the socket stays open): resubscribe with `after`. */
export enum StreamErrorCode {
  /** The supergraph changed: resubscribe (the query may plan differently now). */
  SchemaReloaded = "SCHEMA_RELOADED",
  /** More than the queue bound was waiting for this client: resubscribe with `after` (the error's `cursor`). */
  SlowConsumer = "SLOW_CONSUMER",
  /** The owning subgraph's stream dropped (restart, deploy): resubscribe with `after`. */
  StreamInterrupted = "STREAM_INTERRUPTED",
  /** The server (gateway or earnings) is stopping: reconnect, to another instance, with your last cursor. */
  ShuttingDown = "SHUTTING_DOWN",
  /** Earnings could not read the feed while replaying: resubscribe with your last cursor. */
  StreamUnavailable = "STREAM_UNAVAILABLE",
}

/**
 * WebSocket close codes of every graphql-ws endpoint here (the gateway's and the subgraphs'),
 * ours and the RFC 6455 / graphql-ws ones we send or act on.
 */
export enum WsCloseCode {
  /** The server is shutting down: reconnect (to another instance) with your last cursor. */
  GoingAway = 1001,
  /** RFC 6455: a frame that breaks the protocol. */
  ProtocolError = 1002,
  /** RFC 6455: a data type the endpoint cannot accept. */
  UnsupportedData = 1003,
  /** RFC 6455: a message that is not valid for its type (e.g. not UTF-8). */
  InvalidPayload = 1007,
  /** Pings faster than WS_MAX_PINGS_PER_MINUTE (RFC 6455 policy violation): a client bug or a flood. */
  PolicyViolation = 1008,
  /** A message larger than WS_MAX_MESSAGE_BYTES (RFC 6455 "message too big"); it was never buffered. */
  MessageTooBig = 1009,
  /** graphql-ws: a message that is not valid graphql-transport-ws. */
  BadRequest = 4400,
  /** No token, an invalid one, or it expired (the client must get a fresh token). */
  Unauthenticated = 4401,
  Forbidden = 4403,
  /** graphql-ws: the client did not offer the graphql-transport-ws subprotocol. */
  SubprotocolNotAcceptable = 4406,
  /** No connection_init within WS_INIT_TIMEOUT_MS (graphql-ws's own code). */
  ConnectionInitTimeout = 4408,
  /** graphql-ws: a subscription id already in use on this socket. */
  SubscriberAlreadyExists = 4409,
  /**
   * Too many sockets for this user (WS_MAX_SOCKETS_PER_USER) or client address
   * (WS_MAX_SOCKETS_PER_ADDRESS), or a partner key over its rate limit: close another socket or
   * retry later (like HTTP 429). graphql-ws sends the same number for a second connection_init.
   */
  RateLimited = 4429,
  /** graphql-ws: the server failed (e.g. onConnect threw). */
  InternalServerError = 4500,
}

/** Upstream close codes that refuse a subscription: resubscribing would be refused again (gateway rooms). */
export const REFUSING_CLOSE_CODES: ReadonlySet<number> = new Set<number>([
  WsCloseCode.ProtocolError,
  WsCloseCode.UnsupportedData,
  WsCloseCode.InvalidPayload,
  WsCloseCode.PolicyViolation,
  WsCloseCode.MessageTooBig,
  WsCloseCode.BadRequest,
  WsCloseCode.Forbidden,
  WsCloseCode.SubprotocolNotAcceptable,
  WsCloseCode.SubscriberAlreadyExists,
  WsCloseCode.RateLimited,
  WsCloseCode.InternalServerError,
]);

// ---- factories -------------------------------------------------------------------------------

/** `extensions.http` of an error that refuses a whole HTTP request (Apollo applies it; WebSocket errors must not carry it). */
type HttpRefusal = { status: number; headers?: Map<string, string> };

/** A GraphQL error with `code` first in `extensions` (then `extra`), the shape every factory here returns. */
export function codedError(code: string, message: string, extra: Record<string, unknown> = {}, nodes?: readonly ASTNode[]): GraphQLError {
  return new GraphQLError(message, { nodes, extensions: { code, ...extra } });
}

/**
 * UNAUTHENTICATED on a field (requireUser and friends). No HTTP status: a field-level error
 * must not turn the whole response into a 401.
 */
export function unauthenticated(message = "authentication required"): GraphQLError {
  return codedError(GraphQLErrorCode.Unauthenticated, message);
}

/** UNAUTHENTICATED refusing the whole request (a bad bearer token, a bad API key): HTTP 401. */
export function authFailure(message: string): GraphQLError {
  return codedError(GraphQLErrorCode.Unauthenticated, message, { http: { status: 401 } satisfies HttpRefusal });
}

export function forbidden(message = "not allowed"): GraphQLError {
  return codedError(GraphQLErrorCode.Forbidden, message);
}

/** BAD_REQUEST; `httpStatus` when it refuses an HTTP request (400). */
export function badRequest(message: string, httpStatus?: number): GraphQLError {
  return codedError(GraphQLErrorCode.BadRequest, message, httpStatus === undefined ? {} : { http: { status: httpStatus } satisfies HttpRefusal });
}

/** An operation type the served schema lacks (graphql-js validation does not reject it). */
export function validationFailed(message: string, opts: { httpStatus?: number; nodes?: readonly ASTNode[] } = {}): GraphQLError {
  return codedError(GraphQLErrorCode.GraphQLValidationFailed, message, opts.httpStatus === undefined ? {} : { http: { status: opts.httpStatus } satisfies HttpRefusal }, opts.nodes);
}

/**
 * BAD_USER_INPUT as a GraphQLError value (a graphql-ws `error` list, a refusal returned rather than
 * thrown). Resolvers and domain code throw badInput() (errors.ts), which reports the same.
 */
export function badUserInput(message: string, field?: string[]): GraphQLError {
  return codedError(GraphQLErrorCode.BadUserInput, message, { field });
}

export function parseFailed(message: string): GraphQLError {
  return codedError(GraphQLErrorCode.GraphQLParseFailed, message);
}

export function notFound(message: string): GraphQLError {
  return codedError(GraphQLErrorCode.NotFound, message);
}

export function internalError(message: string): GraphQLError {
  return codedError(GraphQLErrorCode.InternalServerError, message);
}

/** A subgraph fetch that failed at the transport (gateway/fetcher.ts). */
export function subgraphFailure(serviceName: string, timedOut: boolean, timeoutMs: number): GraphQLError {
  return timedOut
    ? codedError(GraphQLErrorCode.SubgraphTimeout, `${serviceName} did not answer within ${timeoutMs} ms`, { serviceName })
    : codedError(GraphQLErrorCode.SubgraphUnavailable, `${serviceName} is unavailable`, { serviceName });
}

/**
 * RATE_LIMITED with `retryAfterSeconds`. On HTTP (the default) it also refuses the request with
 * 429 and `Retry-After`; `{ http: false }` for a WebSocket `error` message.
 */
export function rateLimited(message: string, retryAfterSeconds: number, opts: { http?: boolean } = {}): GraphQLError {
  if (opts.http === false) return codedError(GraphQLErrorCode.RateLimited, message, { retryAfterSeconds });
  const http: HttpRefusal = { status: 429, headers: new Map([["retry-after", String(retryAfterSeconds)]]) };
  return codedError(GraphQLErrorCode.RateLimited, message, { retryAfterSeconds, http });
}

/** What a client sees when a limit refuses it, whichever guard did: HTTP 429, `Retry-After`, `retryAfterSeconds`. */
export function rateLimitError(action: string, retryAfterSeconds: number): GraphQLError {
  return rateLimited(`too many ${action} requests; retry in ${retryAfterSeconds}s`, retryAfterSeconds);
}

/** An operation limit (platform/operation-limits.ts): HTTP 400; withoutHttp() for WebSocket. */
export function limitError(code: LimitCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return codedError(code, message, { ...extra, http: { status: 400 } satisfies HttpRefusal });
}

/** The same error without `extensions.http` (a WebSocket `error` message carries no HTTP status). */
export function withoutHttp(error: GraphQLError): GraphQLError {
  const { http: _h, ...extensions } = error.extensions;
  return new GraphQLError(error.message, { extensions });
}

/** An error that ends one subscription; `extra` goes after the code (e.g. `cursor`, `upstreamCloseCode`). */
export function streamError(code: StreamErrorCode, message: string, extra: Record<string, unknown> = {}): GraphQLError {
  return codedError(code, message, extra);
}

/** SLOW_CONSUMER with the cursor of the last event this client was given: resuming from it loses nothing. */
export function slowConsumerError(message: string, cursor: string | null): GraphQLError {
  return streamError(StreamErrorCode.SlowConsumer, message, { cursor });
}
