import type { Server } from "node:http";
import { randomUUID } from "node:crypto";
import type { ExecutionResult, GraphQLSchema } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { TokenVerifier } from "../../../platform/auth.js";
import type { BaseContext } from "../../../platform/subgraph.js";
import { logger } from "../../../platform/logger.js";
import { failingIterator, verifyConnection, WsCloseCode, type WsConnection } from "../../../platform/ws.js";
import type { WsGuard } from "../../../platform/ws-limits.js";

export interface StreamServerOptions<C> {
  http: Server;
  schema: GraphQLSchema;
  verifier: TokenVerifier;
  /** Builds the same per-operation context as HTTP requests get. */
  context: (base: BaseContext) => C;
  path?: string;
  /** Message size, init timeout, socket/subscription caps, pings and operation limits (platform/ws-limits.ts). */
  guard: WsGuard;
}

/** graphql-ws on the subgraph's own HTTP server and path (the gateway connects here). */
export function attachStreamServer<C>(opts: StreamServerOptions<C>): { stop(): Promise<void>; sockets(): number } {
  const wss = opts.guard.webSocketServer({ server: opts.http, path: opts.path ?? "/graphql" });
  const serverCleanup = useServer<Record<string, unknown>, WsConnection>(
    {
      schema: opts.schema,
      ...opts.guard.graphqlWsOptions<Record<string, unknown>, WsConnection>(() => opts.schema),
      onConnect: async (ctx) => (await verifyConnection(ctx.extra, ctx.connectionParams, opts.verifier)) && opts.guard.identify(ctx.extra.socket, ctx.extra.user!.id),
      onClose: (ctx) => {
        if (ctx.extra.expiry) clearTimeout(ctx.extra.expiry);
      },
      context: (ctx) =>
        opts.context({ user: ctx.extra.user ?? null, authorization: ctx.extra.authorization, requestId: randomUUID() }) as unknown as Record<string, unknown>,
      onOperation: (_ctx, _id, _payload, _args, result) => {
        const r = result as ExecutionResult | AsyncIterable<ExecutionResult>;
        if (!(Symbol.asyncIterator in r) && r.errors?.length) return failingIterator(r.errors[0]);
        return undefined;
      },
    },
    wss,
  );
  return {
    sockets: () => wss.clients.size,
    async stop() {
      for (const client of wss.clients) client.close(WsCloseCode.GoingAway, "server shutting down: reconnect with your last cursor");
      await Promise.resolve(serverCleanup.dispose()).catch((err: unknown) => logger.debug({ err: String(err) }, "ws dispose"));
      await new Promise<void>((r) => wss.close(() => r()));
    },
  };
}
