import "reflect-metadata";
import type { IncomingMessage } from "node:http";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { AuthError, TokenVerifier, type AuthUser } from "../platform/auth.js";
import { loadConfig, type WsLimitSettings } from "../platform/config.js";
import { authFailure, formatError, originAllowed, startGraphQLHttpServer, type RunningServer } from "../platform/http.js";
import { logger } from "../platform/logger.js";
import { isEntryPoint } from "../platform/main.js";
import { requestLogPlugin } from "../platform/request-log.js";
import { ServiceSigner } from "../platform/service-auth.js";
import { disableApolloTelemetry, persistedOperationsModeFromEnv, publicFetchSettingsFromEnv, readSupergraph, subgraphUrlsFromEnv, type SubgraphName, type SubgraphUrls } from "./config.js";
import { startPartnerEndpoint } from "./partner/endpoint.js";
import { DEFAULT_LIMITS, operationLimitsPlugin, preflight, type OperationLimits } from "../platform/operation-limits.js";
import { WsGuard } from "../platform/ws-socket-limits.js";
import { TokenBuckets, type BucketRule } from "../platform/token-bucket.js";
import { GATEWAY_ONLY_LIMITS, moneyRateLimitPlugin } from "./money-rate-limit.js";
import { SubgraphDataSource } from "./data-source.js";
import { PublicFetches, type PublicFetchSettings } from "./public-fetches.js";
import { installOperationMemo } from "./operation-memo.js";
import { PersistedOperations, readManifest, type PersistedOperationManifest } from "./persisted-operations.js";
import type { PersistedOperationsMode } from "./config.js";
import { subgraphRateLimitStatusPlugin } from "./subgraph-errors.js";
import { SubscriptionGateway } from "./subscriptions/server.js";
import { giftAssetsRoute, ideRoute } from "./ide.js";
import { publicCachePlugin } from "./cache-control.js";
import { metricsPlugin, useMetrics } from "../platform/metrics.js";
import { incomingTraceparent, shutdownTracing } from "../platform/tracing.js";
import { gatewaySample } from "./metrics.js";

export interface GatewayContext {
  user: AuthUser | null;
  authorization: string | undefined;
  requestId: string;
  /** The caller's W3C traceparent, forwarded to the subgraphs when no span of ours is active (platform/tracing.ts). */
  traceparent?: string;
}

export interface GatewayOptions {
  port?: number;
  subgraphUrls?: SubgraphUrls;
  /** Supergraph SDL; defaults to the committed schema/supergraph.graphql (never introspection at start-up). */
  supergraphSdl?: string;
  /** The partner contract's supergraph; defaults to the committed schema/contracts/partner.supergraph.graphql. */
  partnerSupergraphSdl?: string;
  /** The gateway's own database (partner API keys); without it /partner/graphql answers 503. */
  databaseUrl?: string;
  /** Run the gateway's `partners` schema migrations at start (default true). */
  migrate?: boolean;
  /** How often open partner WebSockets re-check their API key (default 30 s). */
  partnerRevalidateMs?: number;
  /** Bad partner keys allowed per client address before it is refused (see startPartnerEndpoint). */
  partnerInvalidKeyLimit?: BucketRule;
  limits?: Partial<OperationLimits>;
  /** WebSocket bounds over the configured ones (WS_MAX_*): tests and load tests with many sockets from one address. */
  ws?: Partial<WsLimitSettings>;
  /** Per-user money-mutation buckets; pass TokenBuckets with other rules in tests or benchmarks. */
  rateLimiter?: TokenBuckets;
  /** Timeout for each subgraph fetch. */
  subgraphTimeoutMs?: number;
  /**
   * Merging and caching of caller-independent fetches, over PUBLIC_FETCH_* (gateway/public-fetches.ts).
   * The cache needs `databaseUrl` (where the owners NOTIFY their changes); without it fetches are only merged.
   */
  publicFetches?: Partial<PublicFetchSettings>;
  /** Persisted operations (gateway/persisted-operations.ts): the mode over PERSISTED_OPERATIONS, the manifest over schema/persisted-operations.json. */
  persistedOperations?: { mode?: PersistedOperationsMode; manifest?: PersistedOperationManifest };
}

export interface RunningGateway extends RunningServer {
  gateway: ApolloGateway;
  rateLimiter: TokenBuckets;
  /** Caller-independent fetches shared between callers (counters in `publicFetches.stats`). */
  publicFetches: PublicFetches;
  /** The persisted-operation manifest and its rule (counters in `persistedOperations.stats`). */
  persistedOperations: PersistedOperations;
  /** graphql-ws subscriptions on the same URL (counters in `subscriptions.stats`). */
  subscriptions: SubscriptionGateway;
  /** The WebSocket bounds of both endpoints (one per process: per-user and per-address caps count across them). */
  wsGuard: WsGuard;
}

export async function startGateway(opts: GatewayOptions = {}): Promise<RunningGateway> {
  const config = loadConfig();
  const production = config.env === "production";
  const urls = opts.subgraphUrls ?? subgraphUrlsFromEnv();
  disableApolloTelemetry();
  const signer = new ServiceSigner(config, "gateway");
  installOperationMemo();
  const publicFetches = new PublicFetches({ ...publicFetchSettingsFromEnv(), ...opts.publicFetches }, opts.databaseUrl);
  await publicFetches.start();
  const gateway = new ApolloGateway({
    supergraphSdl: opts.supergraphSdl ?? readSupergraph(),
    // Each fetch's document (already built by the planner) reaches the data source: which root fields
    // a fetch asks for decides whether its answer may be cached (gateway/public-fetches.ts).
    queryPlannerConfig: { exposeDocumentNodeInFetchNode: true },
    buildService: ({ name, url }) =>
      new SubgraphDataSource({ name, url: urls[name as SubgraphName] ?? url!, signer, timeoutMs: opts.subgraphTimeoutMs ?? config.subgraphTimeoutMs, publicFetches }),
  });
  const persisted = new PersistedOperations(opts.persistedOperations?.mode ?? persistedOperationsModeFromEnv(), opts.persistedOperations?.manifest ?? readManifest());
  gateway.onSchemaLoadOrUpdate(({ apiSchema }) => persisted.prepare(apiSchema));
  const verifier = new TokenVerifier(config);
  const limits = { ...DEFAULT_LIMITS, ...opts.limits };
  const wsGuard = new WsGuard({
    settings: { ...config.ws, ...opts.ws },
    limits,
    trustProxyHops: config.trustProxyHops,
    production,
    // One rule for HTTP and WebSocket on /graphql (the partner endpoint serves partners' own operations).
    operations: { paths: ["/graphql"], resolve: (payload) => persisted.resolveSubscribe(payload) },
  });
  // @apollo/gateway cannot execute subscriptions: our executor does, planned against the same supergraph.
  const subscriptions = new SubscriptionGateway({
    supergraphSdl: opts.supergraphSdl ?? readSupergraph(),
    urls,
    verifier,
    signer,
    guard: wsGuard,
    allowOrigin: (origin) => originAllowed(origin, config.corsOrigins),
  });
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => subscriptions.onSchema(coreSupergraphSdl));
  const rateLimiter = opts.rateLimiter ?? new TokenBuckets({ ...config.moneyRateLimits, ...GATEWAY_ONLY_LIMITS });
  const apollo = (httpServer: import("node:http").Server) =>
    new ApolloServer<GatewayContext>({
      gateway,
      introspection: !production,
      includeStacktraceInErrorResponses: false,
      // Our process owns the signals (runMain / supervisor); Apollo's own handler races it and hangs stop().
      stopOnTerminationSignals: false,
      csrfPrevention: true,
      // No "Did you mean …?" in production: with introspection off, suggestions would still reveal the schema.
      hideSchemaDetailsFromClientErrors: production,
      formatError,
      allowBatchedHttpRequests: true,
      // Manifest operations by id (APQ's wire format) and prepared documents (gateway/persisted-operations.ts).
      persistedQueries: { cache: persisted.apqCache() },
      documentStore: persisted.documentStore(),
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        operationLimitsPlugin(limits),
        moneyRateLimitPlugin(rateLimiter, (ctx: GatewayContext) => ctx.user?.id),
        subgraphRateLimitStatusPlugin(),
        requestLogPlugin("gateway"),
        publicCachePlugin<GatewayContext>(),
        metricsPlugin("gateway"),
        // No Apollo landing page anywhere: it loads Apollo Sandbox from a CDN (blank offline). Development serves GraphiQL (ide.ts).
        ApolloServerPluginLandingPageDisabled(),
      ],
    });
  const partner = await startPartnerEndpoint({
    supergraphSdl: opts.partnerSupergraphSdl,
    subgraphUrls: urls,
    databaseUrl: opts.databaseUrl,
    migrate: opts.migrate,
    production,
    revalidateMs: opts.partnerRevalidateMs,
    signer,
    invalidKeyLimit: opts.partnerInvalidKeyLimit,
    limits,
    wsGuard,
    trustProxyHops: config.trustProxyHops,
  });
  const server = await startGraphQLHttpServer<GatewayContext>({
    name: "gateway",
    apollo,
    port: opts.port ?? config.ports.gateway,
    onServer: (http) => {
      subscriptions.attach(http);
      partner.attach(http);
    },
    host: config.host,
    // The IDE (development only) answers browsers on GET /graphql before Apollo's own landing page would.
    routes: [partner.route, giftAssetsRoute, ...(production ? [] : [ideRoute()])],
    production,
    edge: true,
    preflight: (body, request) => persisted.httpPreflight(body, request.method, request.search) ?? preflight(body, limits),
    ready: async () => {
      const checks = await Promise.all(
        Object.values(urls).map((u) =>
          fetch(u.replace(/\/graphql$/, "/ready"), { signal: AbortSignal.timeout(2000) }).then((r) => r.ok, () => false),
        ),
      );
      return checks.every(Boolean);
    },
    context: async (req: IncomingMessage, requestId: string) => {
      const authorization = typeof req.headers.authorization === "string" ? req.headers.authorization : undefined;
      try {
        const user = await verifier.fromHeader(authorization);
        return { user, authorization, requestId, traceparent: incomingTraceparent(req.headers) };
      } catch (e) {
        if (e instanceof AuthError) throw authFailure(e.message);
        throw e;
      }
    },
  });
  const metrics = useMetrics({
    service: "gateway",
    sample: () => gatewaySample([{ endpoint: "/graphql", subscriptions }, { endpoint: "/partner/graphql", subscriptions: partner.subscriptions }]),
  });
  logger.info({ url: server.url }, "gateway listening");
  return {
    ...server,
    gateway,
    rateLimiter,
    publicFetches,
    persistedOperations: persisted,
    subscriptions,
    wsGuard,
    stop: async () => {
      await subscriptions.stop(); // close sockets with a reason before HTTP drains
      await partner.closeStreams();
      await server.stop();
      await partner.stop(); // after the drain: in-flight partner requests finish first
      await publicFetches.stop();
      metrics.stop();
    },
  };
}

if (isEntryPoint(import.meta.url)) {
  startGateway({ databaseUrl: loadConfig().databaseUrl, migrate: loadConfig().migrate }).then(
    (server) => {
      const shutdown = () => server.stop().then(shutdownTracing).then(() => process.exit(0), () => process.exit(1));
      process.on("SIGINT", shutdown);
      process.on("SIGTERM", shutdown);
    },
    (err) => {
      logger.fatal({ err: err instanceof Error ? err.stack : String(err) }, "gateway failed to start");
      process.exit(1);
    },
  );
}
