import type { Server } from "node:http";
import { randomUUID } from "node:crypto";
import { GraphQLError, type ExecutionResult, type GraphQLSchema } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer, type WebSocket } from "ws";
import { AuthError, type AuthUser, type TokenVerifier } from "../../common/auth.js";
import type { BaseContext } from "../../common/subgraph.js";
import { logger } from "../../common/logger.js";

/** WebSocket close codes (graphql-ws style: 4401 = no/invalid/expired token, 1001 = going away). */
export enum StreamCloseCode {
  Unauthenticated = 4401,
  Forbidden = 4403,
  GoingAway = 1001,
}

type Extra = {
  socket: WebSocket;
  user?: AuthUser;
  authorization?: string;
  expiry?: NodeJS.Timeout;
};

export interface StreamServerOptions<C> {
  http: Server;
  schema: GraphQLSchema;
  verifier: TokenVerifier;
  /** Builds the same per-operation context as HTTP requests get. */
  context: (base: BaseContext) => C;
  path?: string;
}

/** The bearer token from connection_init `{ authorization: "Bearer <jwt>" }` (the same value as the HTTP header). */
export function authorizationFrom(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  const v = params?.authorization ?? params?.Authorization;
  return typeof v === "string" ? v : undefined;
}

/**
 * An iterator that fails at once: graphql-ws then sends an `error` message (with the
 * error's extensions) instead of a `next` carrying errors followed by `complete`.
 */
export function failingIterator(errors: readonly GraphQLError[]): AsyncIterableIterator<never> {
  const error = errors[0] ?? new GraphQLError("subscription failed");
  return {
    next: () => Promise.reject(error),
    return: () => Promise.resolve({ value: undefined, done: true }),
    throw: (e) => Promise.reject(e),
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * Verifies the connection's token once in connection_init (close 4401 when missing or
 * invalid) and closes the socket when the token expires, so a stream never outlives its
 * authorization.
 */
export async function verifyConnection(
  extra: { socket: WebSocket; user?: AuthUser; authorization?: string; expiry?: NodeJS.Timeout },
  params: Readonly<Record<string, unknown>> | undefined,
  verifier: TokenVerifier,
): Promise<boolean> {
  const authorization = authorizationFrom(params);
  let user: AuthUser | null = null;
  try {
    user = await verifier.fromHeader(authorization);
  } catch (e) {
    if (!(e instanceof AuthError)) throw e;
    extra.socket.close(StreamCloseCode.Unauthenticated, `Unauthorized: ${e.message}`);
    return false;
  }
  if (!user) {
    extra.socket.close(StreamCloseCode.Unauthenticated, "Unauthorized: send connection_init { authorization: \"Bearer <jwt>\" }");
    return false;
  }
  extra.user = user;
  extra.authorization = authorization;
  if (user.exp !== undefined) {
    const ms = Math.max(0, user.exp * 1000 - Date.now());
    // setTimeout overflows past ~24.8 days; such tokens are re-checked by the next timer.
    extra.expiry = setTimeout(() => extra.socket.close(StreamCloseCode.Unauthenticated, "Unauthorized: token expired; reconnect with a fresh token and your last cursor"), Math.min(ms, 2 ** 31 - 1));
    extra.expiry.unref();
  }
  return true;
}

/** graphql-ws on the subgraph's own HTTP server and path (the gateway connects here). */
export function attachStreamServer<C>(opts: StreamServerOptions<C>): { stop(): Promise<void>; sockets(): number } {
  const wss = new WebSocketServer({ server: opts.http, path: opts.path ?? "/graphql" });
  const serverCleanup = useServer<Record<string, unknown>, Extra>(
    {
      schema: opts.schema,
      onConnect: (ctx) => verifyConnection(ctx.extra, ctx.connectionParams, opts.verifier),
      onClose: (ctx) => {
        if (ctx.extra.expiry) clearTimeout(ctx.extra.expiry);
      },
      context: (ctx) =>
        opts.context({ user: ctx.extra.user ?? null, authorization: ctx.extra.authorization, requestId: randomUUID() }) as unknown as Record<string, unknown>,
      onOperation: (_ctx, _id, _payload, _args, result) => {
        const r = result as ExecutionResult | AsyncIterable<ExecutionResult>;
        if (!(Symbol.asyncIterator in r) && r.errors?.length) return failingIterator(r.errors);
        return undefined;
      },
    },
    wss,
  );
  return {
    sockets: () => wss.clients.size,
    async stop() {
      for (const client of wss.clients) client.close(StreamCloseCode.GoingAway, "server shutting down: reconnect with your last cursor");
      await Promise.resolve(serverCleanup.dispose()).catch((err: unknown) => logger.debug({ err: String(err) }, "ws dispose"));
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
