import type { IncomingMessage, Server } from "node:http";
import { randomUUID } from "node:crypto";
import type { ExecutionArgs, ExecutionResult, GraphQLError } from "graphql";
import type { Client } from "graphql-ws";
import { useServer } from "graphql-ws/use/ws";
import type WebSocket from "ws";
import type { WebSocketServer } from "ws";
import type { TokenVerifier } from "../../platform/auth.js";
import { loadConfig } from "../../platform/config.js";
import { ServiceSigner, type SignedIdentity } from "../../platform/service-auth.js";
import { logger } from "../../platform/logger.js";
import { badRequest, forbidden, streamError, StreamErrorCode, WsCloseCode } from "../../platform/codes.js";
import { closeWhenExpired, failingIterator, overlayTokenFrom, verifyConnection } from "../../platform/ws.js";
import type { WsGuard } from "../../platform/ws-socket-limits.js";
import { asGraphQLError, ONLY_SUBSCRIPTIONS, SubscriptionExecutor, type DataSourceFactory, type PlannedSubscription } from "./executor.js";
import { feedBusConfigFromEnv, roomStreamConfigFromEnv, subscriptionStreamConfigFromEnv, type FeedBusConfig, type RoomStreamConfig } from "../config.js";
import { emptyFeedBusStats, openFeedBus, roomCheck, type FeedBus } from "./feed-bus.js";
import { emptyRoomStats, Rooms, type PrivateStream, type RoomHost } from "./rooms.js";
import { roomShape } from "./shareable.js";
import { ActiveSubscription, type SubscriptionHost } from "./active-subscription.js";
import type { ConnectionExtra, SubscriptionContext } from "./connection.js";
import { openUpstream, type Upstream } from "./upstream.js";
import { routeUpgrades } from "./upgrades.js";

export interface SubscriptionGatewayOptions {
  supergraphSdl: string;
  urls: Record<string, string>;
  verifier: TokenVerifier;
  /** Signs the upstream connections to subgraphs (default: the gateway's credential from config). */
  signer?: ServiceSigner;
  /** Results a client may have queued before its subscription is ended as too slow. */
  maxQueue?: number;
  /** A subscription behind by more than maxQueue/4 events for this long is ended (SLOW_CONSUMER). */
  slowMs?: number;
  dataSource?: DataSourceFactory;
  path?: string;
  /**
   * Replaces the JWT check in connection_init (the partner endpoint takes API keys).
   * Returns the Authorization to forward upstream (and when the connection must end),
   * or closes the socket itself and returns null.
   */
  authenticate?: ConnectionAuthenticator;
  /** Message size, init timeout, socket/subscription caps, pings and operation limits (platform/ws-socket-limits.ts). */
  guard: WsGuard;
  /**
   * Browser origins allowed to open a socket (the CORS allow-list: one rule for HTTP and WebSocket).
   * Upgrades without an Origin header (servers, native apps) are not browsers and pass.
   */
  allowOrigin?: (origin: string) => boolean;
  /** Runs before each subscription starts (the partner endpoint spends rate limit here); an error refuses it. */
  beforeSubscribe?: (socket: WebSocket) => Promise<GraphQLError | null>;
  /** The shared room path's bounds (default: roomStreamConfigFromEnv()). */
  rooms?: Partial<RoomStreamConfig>;
  /** Where feed-fed rooms get their events (default: feedBusConfigFromEnv(): NATS with NATS_URL, earnings' stream otherwise). */
  feedBus?: FeedBusConfig | ((earnings: () => Client) => FeedBus);
}

export type ConnectionAuthenticator = (
  params: Readonly<Record<string, unknown>> | undefined,
  socket: WebSocket,
  /** The HTTP upgrade request (client address for per-address limits). */
  request?: IncomingMessage,
) => Promise<{ authorization: string | undefined; exp?: number; identity?: SignedIdentity; /** Counted against WS_MAX_SOCKETS_PER_USER. */ principal?: string } | null>;

/** True when the operation's only root field (aliases aside) is `field`. */
function onlyRootField(args: ExecutionArgs, field: string): boolean {
  const ops = args.document.definitions.filter((d) => d.kind === "OperationDefinition");
  const op = args.operationName ? ops.find((d) => d.kind === "OperationDefinition" && d.name?.value === args.operationName) : ops[0];
  if (!op || op.kind !== "OperationDefinition") return false;
  const sel = op.selectionSet.selections;
  return sel.length === 1 && sel[0].kind === "Field" && sel[0].name.value === field;
}

/**
 * graphql-ws on the gateway's own HTTP server and path (ws://host:4000/graphql).
 * Subscriptions run through SubscriptionExecutor; everything else stays on HTTP.
 */
export class SubscriptionGateway implements RoomHost, SubscriptionHost {
  private executor: SubscriptionExecutor;
  /** connection_init of a shared room upstream: the service credential, no viewer (RoomHost). */
  roomConnectionParams(service: string): Promise<Record<string, string>> {
    return this.signer.connectionParams(service, {});
  }

  /** Public streams: one upstream per room, executed once per event for all its viewers (rooms.ts). */
  readonly rooms: Rooms;
  readonly config: RoomStreamConfig;
  private wss: WebSocketServer | null = null;
  private dispose: (() => void | Promise<void>) | null = null;
  private detach: (() => void) | null = null;
  private readonly active = new Set<ActiveSubscription>();
  readonly maxQueue: number;
  /** Backlog per subscription at which the gateway stops reading its upstream socket. */
  readonly pauseAt: number;
  /**
   * Hard bound per subscription on events waiting to be resolved and on results waiting for the
   * client. Above maxQueue on purpose: after the pause, what ws had already read from the socket
   * (a 64 KB read holds ~400 small events) still arrives and must not cut a healthy client off.
   */
  readonly hardCap: number;
  /** How long a subscription may stay over the pause mark before it is ended as too slow. */
  readonly slowMs: number;
  /** Counters for tests, metrics and leak checks. */
  readonly stats = { subscriptions: 0, opened: 0, upstreamSockets: 0, upstreamPauses: 0, slowClosed: 0, reloads: 0, ...emptyRoomStats(), ...emptyFeedBusStats() };

  /** Entity fetches shared between subscribers, per subgraph, for the current schema (metrics, tests). */
  get sharedFetches(): SubscriptionExecutor["sharedFetches"] {
    return this.executor.sharedFetches;
  }

  private readonly signer: ServiceSigner;

  constructor(private readonly opts: SubscriptionGatewayOptions) {
    this.signer = opts.signer ?? new ServiceSigner(loadConfig(), "gateway");
    this.executor = new SubscriptionExecutor(opts.supergraphSdl, { ...opts.urls }, opts.dataSource);
    const configured = subscriptionStreamConfigFromEnv();
    this.maxQueue = opts.maxQueue ?? configured.maxQueue;
    // Well below the hard bound: a socket chunk already read when we pause still fits.
    this.pauseAt = Math.max(1, Math.floor(this.maxQueue / 4));
    this.hardCap = this.maxQueue + 2000;
    this.slowMs = opts.slowMs ?? configured.slowMs;
    this.config = { ...roomStreamConfigFromEnv(), ...opts.rooms };
    const bus = opts.feedBus ?? feedBusConfigFromEnv();
    this.rooms = new Rooms(this, this.executor.urls, (upstream) =>
      typeof bus === "function" ? bus(() => upstream("earnings")) : openFeedBus(bus, () => upstream("earnings"), this.stats, { check: roomCheck(this.executor.urls.earnings, this.signer) }),
    );
  }

  /** Open downstream WebSocket connections. */
  get connections(): number {
    return this.wss?.clients.size ?? 0;
  }

  /**
   * Keeps the planner in step with the gateway's schema. A changed supergraph completes
   * every open subscription with SCHEMA_RELOADED so clients resubscribe (with their cursor).
   */
  onSchema(supergraphSdl: string): void {
    if (supergraphSdl === this.executor.supergraphSdl) return;
    this.executor = new SubscriptionExecutor(supergraphSdl, { ...this.opts.urls }, this.opts.dataSource);
    this.stats.reloads++;
    const reason = streamError(StreamErrorCode.SchemaReloaded, "the graph's schema was reloaded; resubscribe with after: your last cursor");
    for (const sub of [...this.active]) sub.end(reason);
    this.rooms.endAll(reason);
  }

  forget(sub: ActiveSubscription): void {
    if (this.active.delete(sub)) this.stats.subscriptions--;
  }

  attach(http: Server): void {
    const path = this.opts.path ?? "/graphql";
    const wss = this.opts.guard.webSocketServer({ noServer: true });
    this.wss = wss;
    this.detach = routeUpgrades(http, path, wss, this.opts.allowOrigin);
    const server = useServer<Record<string, unknown>, ConnectionExtra>(
      {
        schema: () => this.executor.apiSchema,
        ...this.opts.guard.graphqlWsOptions<Record<string, unknown>, ConnectionExtra>(() => this.executor.apiSchema),
        onConnect: (ctx) => this.authenticate(ctx.extra, ctx.connectionParams),
        onClose: (ctx) => this.closeConnection(ctx.extra),
        context: (ctx, id): Record<string, unknown> => ({ authorization: ctx.extra.authorization, requestId: randomUUID(), id, extra: ctx.extra }) satisfies SubscriptionContext,
        subscribe: (args) => {
          const gate = this.opts.beforeSubscribe;
          if (!gate) return this.subscribe(args);
          const { extra } = args.contextValue as SubscriptionContext;
          return gate(extra.socket).then((refused) => (refused ? { errors: [refused] } : this.subscribe(args)));
        },
        execute: () => ({ errors: [badRequest(ONLY_SUBSCRIPTIONS)] }),
        onOperation: (_ctx, _id, _payload, _args, result) => {
          const r = result as ExecutionResult | AsyncIterable<ExecutionResult>;
          if (!(Symbol.asyncIterator in r) && r.errors?.length) return failingIterator(asGraphQLError(r.errors[0]));
          return undefined;
        },
      },
      wss,
    );
    this.dispose = () => server.dispose();
  }

  private async authenticate(extra: ConnectionExtra, params: Readonly<Record<string, unknown>> | undefined): Promise<boolean> {
    if (this.opts.authenticate) {
      const granted = await this.opts.authenticate(params, extra.socket, extra.request);
      if (!granted) return false;
      extra.authorization = granted.authorization;
      extra.identity = granted.identity;
      if (granted.exp !== undefined) closeWhenExpired(extra, granted.exp);
      return granted.principal === undefined || this.opts.guard.identify(extra.socket, granted.principal);
    }
    // An overlay token is earnings' to verify (it owns them): forwarded upstream, and the upstream's
    // 4401/4403 (invalid, revoked) closes this socket too. No token at all: an anonymous viewer.
    const overlayToken = overlayTokenFrom(params);
    if (overlayToken !== undefined) {
      extra.overlayToken = overlayToken;
      return true;
    }
    if (!(await verifyConnection(extra, params, this.opts.verifier, { allowAnonymous: true }))) return false;
    return extra.user ? this.opts.guard.identify(extra.socket, extra.user.id) : true;
  }

  private closeConnection(extra: ConnectionExtra): void {
    if (extra.expiry) clearTimeout(extra.expiry);
    for (const up of extra.upstreams?.values() ?? []) {
      up.release();
      void up.client.dispose();
    }
    extra.upstreams?.clear();
  }

  private upstream(extra: ConnectionExtra, service: string): Upstream {
    extra.upstreams ??= new Map();
    let up = extra.upstreams.get(service);
    if (!up) {
      up = openUpstream(service, this.executor.urls[service], extra, this.signer, this);
      extra.upstreams.set(service, up);
    }
    return up;
  }

  private subscribe(args: ExecutionArgs): AsyncIterable<ExecutionResult> | ExecutionResult {
    const ctx = args.contextValue as SubscriptionContext;
    if (ctx.extra.overlayToken && !onlyRootField(args, "giftReceived")) {
      return { errors: [forbidden("an overlay token can only follow its host's giftReceived stream")] };
    }
    let plan: PlannedSubscription;
    try {
      plan = this.executor.plan(args.document, args.operationName ?? undefined);
    } catch (err) {
      return { errors: [asGraphQLError(err)] };
    }
    const variables = args.variableValues as Record<string, unknown> | undefined;
    const room = roomShape(this.executor.apiSchema, plan.primary, plan.rest, this.executor.primaryVariables(plan, variables));
    if (room) {
      // A public stream: join its room (one upstream, one execution per event for everyone in it).
      const member = this.rooms.join(this.executor, plan, variables, ctx, room);
      this.stats.subscriptions++;
      this.stats.opened++;
      const onEnd = member.onEnd;
      member.onEnd = () => {
        onEnd();
        this.stats.subscriptions--;
      };
      return member;
    }
    const sub = new ActiveSubscription(this, this.executor, plan, variables, ctx);
    this.active.add(sub);
    this.stats.subscriptions++;
    this.stats.opened++;
    sub.start(this.upstream(ctx.extra, plan.primary.serviceName));
    return sub.channel;
  }

  /** RoomHost: the per-client path for one room member's catch-up replay (not counted as a client subscription). */
  openPrivate(plan: PlannedSubscription, variables: Record<string, unknown> | undefined, ctx: SubscriptionContext, upstreamQuery: string): PrivateStream {
    const sub = new ActiveSubscription(this, this.executor, plan, variables, ctx, upstreamQuery);
    sub.start(this.upstream(ctx.extra, plan.primary.serviceName));
    return sub.channel as PrivateStream;
  }

  async stop(): Promise<void> {
    const bye = streamError(StreamErrorCode.ShuttingDown, "the gateway is shutting down; reconnect with your last cursor");
    for (const sub of [...this.active]) sub.end(bye);
    await this.rooms.stop(bye);
    for (const client of this.wss?.clients ?? []) client.close(WsCloseCode.GoingAway, "gateway shutting down: reconnect with your last cursor");
    await Promise.resolve(this.dispose?.()).catch((err: unknown) => logger.debug({ err: String(err) }, "ws dispose"));
    this.detach?.();
    if (this.wss) await new Promise<void>((r) => this.wss!.close(() => r()));
  }
}
