import { GraphQLError } from "graphql";
import type { WebSocket } from "ws";
import { AuthError, type AuthUser, type TokenVerifier } from "./auth.js";
import { SERVICE_PARAM, type ServiceVerifier, type SignedIdentity } from "./service-auth.js";
import { WsCloseCode } from "./codes.js";

// The close codes live with every other code in platform/codes.ts; re-exported for existing callers.
export { WsCloseCode };

/** What a graphql-ws connection knows about its caller after connection_init. */
// A type, not an interface: graphql-ws wants its `extra` indexable.
export type WsConnection = {
  socket: WebSocket;
  user?: AuthUser;
  authorization?: string;
  /** Signed identity claims to vouch for upstream when there is no user token (the partner endpoint). */
  identity?: SignedIdentity;
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

/**
 * A subgraph's graphql-ws connection_init: the caller's service credential first (close 4401
 * without it: only the gateway may open streams here), then the end user, from their own token
 * (verified again here) or from the identity the credential carries.
 */
export async function verifySignedConnection(
  conn: WsConnection,
  params: Readonly<Record<string, unknown>> | undefined,
  verifier: TokenVerifier,
  serviceVerifier: ServiceVerifier,
  opts: { allowAnonymous?: boolean } = {},
): Promise<boolean> {
  const credential = params?.[SERVICE_PARAM];
  let identity: AuthUser | null;
  try {
    identity = (await serviceVerifier.fromHeader(typeof credential === "string" ? credential : undefined)).identity;
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    conn.socket.close(WsCloseCode.Unauthenticated, `Unauthorized: ${e.message}`.slice(0, 120));
    return false;
  }
  if (identity && authorizationFrom(params) === undefined) {
    conn.user = identity;
    if (identity.exp !== undefined) closeWhenExpired(conn, identity.exp);
    return true;
  }
  return verifyConnection(conn, params, verifier, opts);
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
