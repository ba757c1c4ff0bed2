import { GraphQLError } from "graphql";
import type { WebSocket } from "ws";
import { AuthError, type AuthUser, type TokenVerifier } from "./auth.js";

/** WebSocket close codes of every graphql-ws endpoint here (the gateway's and the subgraphs'). */
export enum WsCloseCode {
  /** No token, an invalid one, or it expired (the client must get a fresh token). */
  Unauthenticated = 4401,
  Forbidden = 4403,
  /** The server is shutting down: reconnect (to another instance) with your last cursor. */
  GoingAway = 1001,
}

/** What a graphql-ws connection knows about its caller after connection_init. */
// A type, not an interface: graphql-ws wants its `extra` indexable.
export type WsConnection = {
  socket: WebSocket;
  user?: AuthUser;
  authorization?: string;
  expiry?: NodeJS.Timeout;
  /** connection_init `{ overlayToken }`: a host's OBS overlay (verified by earnings, which owns the tokens). */
  overlayToken?: string;
};

/** The overlay credential from connection_init `{ overlayToken: "ovl_..." }`, when one is sent. */
export function overlayTokenFrom(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const v = params?.overlayToken;
  return typeof v === "string" && v.length > 0 && v.length <= 200 ? v : undefined;
}

/** The bearer token from connection_init `{ authorization: "Bearer <jwt>" }` (the same value as the HTTP header). */
export function authorizationFrom(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const v = params?.authorization ?? params?.Authorization;
  return typeof v === "string" ? v : undefined;
}

/**
 * Verifies the connection's token once in connection_init (close 4401 when invalid, or
 * missing unless `allowAnonymous`) and closes the socket when the token expires, so a
 * stream never outlives its authorization. An anonymous connection has no user: only
 * public subscriptions (a room's feed) answer it; private ones say UNAUTHENTICATED.
 */
export async function verifyConnection(
  conn: WsConnection,
  params: Readonly<Record<string, unknown>> | undefined,
  verifier: TokenVerifier,
  opts: { allowAnonymous?: boolean } = {},
): Promise<boolean> {
  const authorization = authorizationFrom(params);
  if (authorization === undefined && opts.allowAnonymous) return true;
  let user: AuthUser | null;
  try {
    user = await verifier.fromHeader(authorization);
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    conn.socket.close(WsCloseCode.Unauthenticated, `Unauthorized: ${e.message}`);
    return false;
  }
  if (!user) {
    conn.socket.close(WsCloseCode.Unauthenticated, 'Unauthorized: send connection_init { authorization: "Bearer <jwt>" }');
    return false;
  }
  conn.user = user;
  conn.authorization = authorization;
  if (user.exp !== undefined) closeWhenExpired(conn, user.exp);
  return true;
}

/** Closes the socket (4401) when `exp` (seconds since the epoch) passes; onClose must clear `conn.expiry`. */
export function closeWhenExpired(conn: WsConnection, exp: number): void {
  const ms = Math.max(0, exp * 1000 - Date.now());
  // Capped at setTimeout's ~24.8 days: a longer-lived token's connection is closed then and reconnects.
  conn.expiry = setTimeout(
    () => conn.socket.close(WsCloseCode.Unauthenticated, "Unauthorized: token expired; reconnect with a fresh token and your last cursor"),
    Math.min(ms, 2 ** 31 - 1),
  );
  conn.expiry.unref();
}

/**
 * An iterator that fails at once: graphql-ws then sends an `error` message (with the
 * error's extensions) instead of a `next` carrying errors followed by `complete`.
 */
export function failingIterator(error: GraphQLError = new GraphQLError("subscription failed")): AsyncIterableIterator<never> {
  return {
    next: () => Promise.reject(error),
    return: () => Promise.resolve({ value: undefined, done: true }),
    throw: (e) => Promise.reject(e),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
