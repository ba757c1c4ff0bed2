import type { Server } from "node:http";
import { randomUUID } from "node:crypto";
import type { ExecutionResult, GraphQLSchema } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import type { WebSocket } from "ws";
import type { TokenVerifier } from "../../../../platform/auth.js";
import type { BaseContext } from "../../../../platform/subgraph.js";
import { logger } from "../../../../platform/logger.js";
import { PgListener } from "../../../../platform/pg-listener.js";
import type { ServiceVerifier } from "../../../../platform/service-auth.js";
import { WsCloseCode } from "../../../../platform/codes.js";
import { failingIterator, overlayTokenFrom, verifySignedConnection, type WsConnection } from "../../../../platform/ws.js";
import type { WsGuard } from "../../../../platform/ws-socket-limits.js";
import { OVERLAY_REVOKED_CHANNEL, type OverlayGrant, type OverlayService } from "../../domain/overlays.js";

type StreamConnection = WsConnection & { overlay?: OverlayGrant };

export interface StreamServerOptions<C> {
  http: Server;
  schema: GraphQLSchema;
  verifier: TokenVerifier;
  /** Only signed callers (the gateway) may open streams; the viewer comes from their forwarded token. */
  serviceVerifier: ServiceVerifier;
  /** Builds the same per-operation context as HTTP requests get (plus the overlay grant, on overlay sockets). */
  context: (base: BaseContext & { overlay?: OverlayGrant }) => C;
  path?: string;
  /** Message size, init timeout, socket/subscription caps, pings and operation limits (platform/ws-socket-limits.ts). */
  guard: WsGuard;
  /** Overlay tokens: verified at connection_init; revocations (NOTIFY) close their sockets. */
  overlays?: { service: OverlayService; databaseUrl: string };
}

export const OVERLAY_REVOKED_REASON = "overlay token revoked";

/**
 * Open overlay sockets by token id. A revocation NOTIFY (from any instance) closes them at
 * once with 4403; after the listener reconnects, every open token is checked again, since
 * notifications sent while it was away are lost.
 */
class OverlaySockets {
  private readonly byToken = new Map<string, Set<WebSocket>>();
  private readonly listener: PgListener;

  constructor(private readonly service: OverlayService, databaseUrl: string) {
    this.listener = new PgListener({
      databaseUrl,
      channel: OVERLAY_REVOKED_CHANNEL,
      name: "earnings-overlay-listener",
      onNotify: (tokenId) => this.close(tokenId),
      onListening: () => void this.recheck(),
    });
  }

  start(): Promise<void> {
    return this.listener.start();
  }

  stop(): Promise<void> {
    return this.listener.stop();
  }

  add(tokenId: string, socket: WebSocket): void {
    let set = this.byToken.get(tokenId);
    if (!set) this.byToken.set(tokenId, (set = new Set()));
    set.add(socket);
    socket.once("close", () => {
      set!.delete(socket);
      if (set!.size === 0 && this.byToken.get(tokenId) === set) this.byToken.delete(tokenId);
    });
  }

  private close(tokenId: string): void {
    for (const socket of this.byToken.get(tokenId) ?? []) socket.close(WsCloseCode.Forbidden, OVERLAY_REVOKED_REASON);
  }

  private async recheck(): Promise<void> {
    const ids = [...this.byToken.keys()];
    try {
      const active = await this.service.active(ids);
      for (const id of ids) if (!active.has(id)) this.close(id);
    } catch (err) {
      logger.warn({ err: String(err) }, "overlay token re-check failed");
    }
  }
}

/** graphql-ws on the subgraph's own HTTP server and path (the gateway connects here). */
export async function attachStreamServer<C>(opts: StreamServerOptions<C>): Promise<{ stop(): Promise<void>; sockets(): number }> {
  const overlays = opts.overlays ? new OverlaySockets(opts.overlays.service, opts.overlays.databaseUrl) : null;
  await overlays?.start();
  const wss = opts.guard.webSocketServer({ server: opts.http, path: opts.path ?? "/graphql" });
  const serverCleanup = useServer<Record<string, unknown>, StreamConnection>(
    {
      schema: opts.schema,
      ...opts.guard.graphqlWsOptions<Record<string, unknown>, StreamConnection>(() => opts.schema),
      onConnect: async (ctx) => {
        // Only the gateway may connect (its service credential), for a viewer, an overlay or an anonymous room viewer.
        if (!(await verifySignedConnection(ctx.extra, ctx.connectionParams, opts.verifier, opts.serviceVerifier, { allowAnonymous: true }))) return false;
        const overlayToken = overlayTokenFrom(ctx.connectionParams);
        if (overlayToken === undefined || !overlays) return ctx.extra.user ? opts.guard.identify(ctx.extra.socket, ctx.extra.user.id) : true;
        const grant = await opts.overlays!.service.verify(overlayToken);
        if (!grant) {
          ctx.extra.socket.close(WsCloseCode.Unauthenticated, "Unauthorized: overlay token invalid or revoked");
          return false;
        }
        ctx.extra.overlay = grant;
        overlays.add(grant.tokenId, ctx.extra.socket);
        return true;
      },
      onClose: (ctx) => {
        if (ctx.extra.expiry) clearTimeout(ctx.extra.expiry);
      },
      context: (ctx) =>
        opts.context({
          user: ctx.extra.user ?? null,
          authorization: ctx.extra.authorization,
          requestId: randomUUID(),
          ...(ctx.extra.overlay ? { overlay: ctx.extra.overlay } : {}),
        }) as unknown as Record<string, unknown>,
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
      await overlays?.stop();
    },
  };
}
