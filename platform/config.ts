// Configuration is read and validated here, once; services never read process.env elsewhere.
// process.env is read only in config modules: this file, subgraphs/<name>/config.ts, gateway/config.ts,
// web/config.ts, scripts/config.ts and bench/config.ts (test/unit/config-reads.test.ts enforces it).
import { parseMoneyRateLimits, type MoneyAction } from "./money-rate-limit.js";
import type { BucketRule } from "./token-bucket.js";

/** Where the gateway serves the repo's gift images (assets/gifts/). */
export const GIFT_ASSETS_PATH = "/assets/gifts";
export const DEV_JWT_SECRET = "dev-only-secret-change-me-0123456789abcdef";
/** Development default of SERVICE_SECRET (the gateway's and owner-read clients' credential to subgraphs); refused in production. */
export const DEV_SERVICE_SECRET = "dev-only-service-secret-change-me-0123456789";

/** Bounds of every graphql-ws endpoint (platform/ws-socket-limits.ts): the gateway's, the partner endpoint's, the earnings stream's. */
export interface WsLimitSettings {
  /** WS_MAX_MESSAGE_BYTES: a larger message closes the socket with 1009 before it is buffered. */
  maxMessageBytes: number;
  /** WS_MAX_SUBSCRIPTIONS_PER_SOCKET: one more is refused with TOO_MANY_SUBSCRIPTIONS (socket stays open). */
  maxSubscriptionsPerSocket: number;
  /** WS_MAX_SOCKETS_PER_USER: per process, counted across all of its WebSocket endpoints (close 4429). */
  maxSocketsPerUser: number;
  /** WS_MAX_SOCKETS_PER_ADDRESS: per process, counted from the upgrade on, before authentication (close 4429). */
  maxSocketsPerAddress: number;
  /** WS_INIT_TIMEOUT_MS: a socket without connection_init by then is closed with 4408. */
  initTimeoutMs: number;
  /** WS_MAX_PINGS_PER_MINUTE: graphql-ws pings and WebSocket ping frames, burst of a sixth of it (at least 5); more closes with 1008. */
  maxPingsPerMinute: number;
}

export type RunMode = "development" | "production" | "test";

/** NODE_ENV as a mode: "production", "test", anything else development. */
export function loadMode(env: NodeJS.ProcessEnv = process.env): RunMode {
  return env.NODE_ENV === "production" ? "production" : env.NODE_ENV === "test" ? "test" : "development";
}

/**
 * What a service process is started with (platform/main.ts, the gateway's and the web server's
 * entry points). Nothing here is validated beyond its shape, so reading it cannot fail.
 */
export interface ProcessSettings {
  /** DATABASE_URL (empty = unset). */
  databaseUrl: string | undefined;
  /** MIGRATE: run migrations (and seeds) at start unless "false". */
  migrate: boolean;
  /** HOST: the interface HTTP servers listen on (default 127.0.0.1; docker-compose sets 0.0.0.0). */
  host: string;
}

export function loadProcessSettings(env: NodeJS.ProcessEnv = process.env): ProcessSettings {
  return { databaseUrl: env.DATABASE_URL || undefined, migrate: env.MIGRATE !== "false", host: env.HOST ?? "127.0.0.1" };
}

/** LOG_LEVEL; silent under tests (NODE_ENV=test or Vitest), info otherwise. Read by the logger as it loads. */
export function loadLogLevel(env: NodeJS.ProcessEnv = process.env): string {
  return env.LOG_LEVEL ?? (env.NODE_ENV === "test" || env.VITEST ? "silent" : "info");
}

export interface Config extends ProcessSettings {
  env: RunMode;
  jwtSecret: string;
  jwtIssuer: string;
  jwtAudience: string;
  jwksUrl: string | undefined;
  /** Longest accepted user-token lifetime (`exp - iat`, or `exp - now` without iat), JWT_MAX_LIFETIME_SECONDS. */
  jwtMaxLifetimeSeconds: number;
  /** HMAC secret of service credentials (platform/service-auth.ts), SERVICE_SECRET. */
  serviceSecret: string;
  ports: { gateway: number; wallet: number; catalog: number; earnings: number };
  /** Where each subgraph answers (WALLET_URL, CATALOG_URL, EARNINGS_URL): the gateway and owner reads call these. */
  subgraphUrls: { wallet: string; catalog: string; earnings: string };
  webhookSecret: string;
  logLevel: string;
  /** MAX_BODY_BYTES: a larger HTTP request body is refused with 413 before it is parsed. */
  maxBodyBytes: number;
  /** STREAM_MAX_QUEUE: events a subscriber may have queued (gateway and earnings streams) before it is ended with SLOW_CONSUMER. */
  streamMaxQueue: number;
  /** TRUST_PROXY_HOPS: proxies in front whose X-Forwarded-For is trusted for the client address. */
  trustProxyHops: number;
  /** Edge WebSocket endpoints (gateway /graphql and /partner/graphql). */
  ws: WsLimitSettings;
  /**
   * The earnings stream server's callers are gateways: one address carries every viewer of a
   * gateway, so its per-address cap is WS_INTERNAL_MAX_SOCKETS_PER_ADDRESS instead (the other
   * bounds are the same).
   */
  internalWs: WsLimitSettings;
  /** SUBGRAPH_TIMEOUT_MS: how long the gateway waits for one subgraph fetch (never retried: mutations move money). */
  subgraphTimeoutMs: number;
  /** Per-user money-mutation limits (MONEY_RATE_LIMITS `action=burst:perMinute,...`): the gateway's buckets and the subgraphs' durable guard. */
  moneyRateLimits: Record<MoneyAction, BucketRule>;
  /** Browser origins allowed to call the HTTP endpoints (CORS_ORIGINS); `scheme://host:*` allows any port. */
  corsOrigins: string[];
  /** How long a browser may cache a preflight answer (CORS_MAX_AGE_SECONDS). */
  corsMaxAgeSeconds: number;
  /** The web app's static server port (WEB_PORT). */
  webPort: number;
  /** Where browsers load the web app (WEB_APP_URL): overlay links are built on it. */
  webAppUrl: string;
  /** The gateway URL the web app's browsers call (PUBLIC_GATEWAY_URL), served to the app as its config. */
  publicGatewayUrl: string;
}

function count(name: string, fallback: number, env: NodeJS.ProcessEnv, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got ${raw}`);
  return n;
}

export function loadWsLimits(env: NodeJS.ProcessEnv = process.env): { ws: WsLimitSettings; internalWs: WsLimitSettings } {
  const ws: WsLimitSettings = {
    maxMessageBytes: count("WS_MAX_MESSAGE_BYTES", 64 * 1024, env, 1024),
    maxSubscriptionsPerSocket: count("WS_MAX_SUBSCRIPTIONS_PER_SOCKET", 20, env),
    maxSocketsPerUser: count("WS_MAX_SOCKETS_PER_USER", 16, env),
    maxSocketsPerAddress: count("WS_MAX_SOCKETS_PER_ADDRESS", 256, env),
    initTimeoutMs: count("WS_INIT_TIMEOUT_MS", 3000, env, 100),
    maxPingsPerMinute: count("WS_MAX_PINGS_PER_MINUTE", 60, env),
  };
  // The gateway multiplexes every room of a process over ONE socket to earnings (gateway/subscriptions/rooms.ts),
  // so the internal server bounds subscriptions per socket far above a viewer's 20.
  return {
    ws,
    internalWs: {
      ...ws,
      maxSocketsPerAddress: count("WS_INTERNAL_MAX_SOCKETS_PER_ADDRESS", 20_000, env),
      maxSubscriptionsPerSocket: count("WS_INTERNAL_MAX_SUBSCRIPTIONS_PER_SOCKET", 10_000, env),
    },
  };
}

/** Development default: the app's own origin plus any localhost port (Vite dev servers, tests). */
export const DEV_CORS_ORIGINS = ["http://localhost:*", "http://127.0.0.1:*"];
const ORIGIN_PATTERN = /^https?:\/\/[a-z0-9.-]+(:(\d{1,5}|\*))?$/i;

/**
 * CORS_ORIGINS: comma-separated origins (`https://app.example.com`, `http://localhost:*`).
 * Production allows no cross-origin caller unless listed, and never `*`: an allow-list, not a switch.
 */
function corsOrigins(env: NodeJS.ProcessEnv, mode: Config["env"], webAppUrl: string): string[] {
  const raw = env.CORS_ORIGINS;
  if (raw === undefined || raw.trim() === "") return mode === "production" ? [] : [new URL(webAppUrl).origin, ...DEV_CORS_ORIGINS];
  const list = raw.split(",").map((o) => o.trim().replace(/\/$/, "")).filter(Boolean);
  for (const o of list) {
    if (o === "*") throw new Error("CORS_ORIGINS must list origins; `*` is refused");
    if (!ORIGIN_PATTERN.test(o)) throw new Error(`CORS_ORIGINS: ${o} is not an origin (scheme://host[:port|:*])`);
  }
  return list;
}

function int(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be a port number, got ${raw}`);
  return n;
}

function positiveInt(name: string, fallback: number, env: NodeJS.ProcessEnv): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

/** The HTTP servers' body limit (platform/http.ts reads it as it loads). */
export function loadMaxBodyBytes(env: NodeJS.ProcessEnv = process.env): number {
  return count("MAX_BODY_BYTES", 256 * 1024, env);
}

/** Every subscription stream's queue bound (gateway/subscriptions/server.ts, earnings' stream hub), read when one starts. */
export function loadStreamMaxQueue(env: NodeJS.ProcessEnv = process.env): number {
  return count("STREAM_MAX_QUEUE", 1000, env);
}

/** Connection pool of each DataSource (platform/db.ts), read when one is created. */
export interface DatabasePoolSettings {
  /** DB_POOL_SIZE: connections per DataSource. */
  poolSize: number;
  /** DB_CONNECT_TIMEOUT_MS: how long a request waits for a free connection before SERVICE_UNAVAILABLE (0 = forever). */
  connectTimeoutMs: number;
}

export function loadDatabasePool(env: NodeJS.ProcessEnv = process.env): DatabasePoolSettings {
  return { poolSize: count("DB_POOL_SIZE", 10, env), connectTimeoutMs: count("DB_CONNECT_TIMEOUT_MS", 5000, env, 0) };
}

/** Where each subgraph answers: WALLET_URL, CATALOG_URL, EARNINGS_URL, an empty value meaning unset (the one definition). */
function subgraphUrls(env: NodeJS.ProcessEnv, ports: Config["ports"]): Config["subgraphUrls"] {
  return {
    wallet: env.WALLET_URL || `http://127.0.0.1:${ports.wallet}/graphql`,
    catalog: env.CATALOG_URL || `http://127.0.0.1:${ports.catalog}/graphql`,
    earnings: env.EARNINGS_URL || `http://127.0.0.1:${ports.earnings}/graphql`,
  };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const mode = loadMode(env);
  const jwtSecret = env.JWT_SECRET ?? DEV_JWT_SECRET;
  const webhookSecret = env.PAYMENT_WEBHOOK_SECRET ?? "whsec_dev_only";
  const serviceSecret = env.SERVICE_SECRET || DEV_SERVICE_SECRET;
  if (mode === "production") {
    if (jwtSecret === DEV_JWT_SECRET && !env.JWKS_URL) throw new Error("JWT_SECRET must be set in production (the development secret is refused)");
    if (jwtSecret.length < 32) throw new Error("JWT_SECRET must be at least 32 characters");
    if (webhookSecret === "whsec_dev_only") throw new Error("PAYMENT_WEBHOOK_SECRET must be set in production");
    if (serviceSecret === DEV_SERVICE_SECRET) throw new Error("SERVICE_SECRET must be set in production (the development secret is refused)");
    if (serviceSecret.length < 32) throw new Error("SERVICE_SECRET must be at least 32 characters");
    // One secret for both would let a leaked user-token key sign service credentials too.
    if (serviceSecret === jwtSecret) throw new Error("SERVICE_SECRET must differ from JWT_SECRET");
  }
  const ports = {
    gateway: int("GATEWAY_PORT", 4000, env),
    wallet: int("WALLET_PORT", 4001, env),
    catalog: int("CATALOG_PORT", 4002, env),
    earnings: int("EARNINGS_PORT", 4003, env),
  };
  const webPort = int("WEB_PORT", 4080, env);
  const webAppUrl = (env.WEB_APP_URL || `http://localhost:${webPort}`).replace(/\/$/, "");
  const maxAge = Number(env.CORS_MAX_AGE_SECONDS ?? 600);
  if (!Number.isInteger(maxAge) || maxAge < 0 || maxAge > 86_400) throw new Error("CORS_MAX_AGE_SECONDS must be an integer 0..86400");
  return {
    env: mode,
    ...loadProcessSettings(env),
    jwtSecret,
    jwtIssuer: env.JWT_ISSUER ?? "gift-economy-idp",
    jwtAudience: env.JWT_AUDIENCE ?? "gift-economy",
    jwksUrl: env.JWKS_URL || undefined,
    jwtMaxLifetimeSeconds: positiveInt("JWT_MAX_LIFETIME_SECONDS", 86_400, env),
    serviceSecret,
    ports,
    subgraphUrls: subgraphUrls(env, ports),
    webhookSecret,
    logLevel: loadLogLevel(env),
    maxBodyBytes: loadMaxBodyBytes(env),
    streamMaxQueue: loadStreamMaxQueue(env),
    trustProxyHops: count("TRUST_PROXY_HOPS", 0, env, 0),
    ...loadWsLimits(env),
    moneyRateLimits: parseMoneyRateLimits(env.MONEY_RATE_LIMITS),
    subgraphTimeoutMs: count("SUBGRAPH_TIMEOUT_MS", 10_000, env, 1),
    corsOrigins: corsOrigins(env, mode, webAppUrl),
    corsMaxAgeSeconds: maxAge,
    webPort,
    webAppUrl,
    publicGatewayUrl: env.PUBLIC_GATEWAY_URL || `http://localhost:${ports.gateway}/graphql`,
  };
}

/**
 * The event transport (docs/scaling.md). Without NATS_URL the PostgreSQL outbox is read directly
 * (the embedded default); with it, an outbox relay publishes to JetStream and consumers read there.
 */
export interface EventTransportConfig {
  /** NATS_URL (e.g. nats://nats:4222); unset = PostgreSQL only. */
  natsUrl: string | undefined;
  /** NATS_STREAM: the JetStream stream of the events (the room feed uses `<stream>_FEED`). */
  stream: string;
  /** NATS_DUPLICATE_WINDOW_SECONDS: JetStream drops a re-published event id within this; longer than any relay outage we allow. */
  duplicateWindowMs: number;
  /** NATS_STREAM_MAX_AGE_HOURS: events older than this leave the stream (PostgreSQL keeps them). */
  maxAgeMs: number;
  /** NATS_ACK_WAIT_MS: a delivered batch not acknowledged by then (its consumer died) is redelivered. */
  ackWaitMs: number;
  /** NATS_SUBJECT_PREFIX: events go to `<prefix>.<type>.<partition>` (default `events`). */
  subjectPrefix: string;
  /** NATS_FEED_SUBJECT_PREFIX: the room feed goes to `<prefix>.room.<liveSessionId>` and `<prefix>.host.<hostId>` (default `feed`). */
  feedSubjectPrefix: string;
}

const SUBJECT_PREFIX = /^[A-Za-z0-9_-]{1,32}(\.[A-Za-z0-9_-]{1,32}){0,3}$/;

export function loadEventTransport(env: NodeJS.ProcessEnv = process.env): EventTransportConfig {
  const natsUrl = env.NATS_URL || undefined;
  if (natsUrl && !/^(nats|tls|wss?):\/\/[^\s]+$/.test(natsUrl)) throw new Error(`NATS_URL must be a nats:// (or tls://, ws://) URL, got ${natsUrl}`);
  const stream = env.NATS_STREAM || "EVENTS";
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(stream)) throw new Error(`NATS_STREAM must be 1-32 letters, digits, _ or -, got ${stream}`);
  return {
    natsUrl,
    stream,
    duplicateWindowMs: count("NATS_DUPLICATE_WINDOW_SECONDS", 2 * 3600, env) * 1000,
    maxAgeMs: count("NATS_STREAM_MAX_AGE_HOURS", 7 * 24, env) * 3600_000,
    ackWaitMs: count("NATS_ACK_WAIT_MS", 30_000, env, 1000),
    subjectPrefix: subjectPrefix("NATS_SUBJECT_PREFIX", "events", env),
    feedSubjectPrefix: subjectPrefix("NATS_FEED_SUBJECT_PREFIX", "feed", env),
  };
}

function subjectPrefix(name: string, fallback: string, env: NodeJS.ProcessEnv): string {
  const v = env[name] || fallback;
  if (!SUBJECT_PREFIX.test(v)) throw new Error(`${name} must be NATS subject tokens (letters, digits, _ or -, dot-separated), got ${v}`);
  return v;
}

/** Metrics (platform/metrics.ts) and tracing (platform/tracing.ts) settings; see docs/observability.md. */
export interface ObservabilityConfig {
  /**
   * METRICS_PORT: when set, /metrics is served only on this port (one listener per process, on
   * METRICS_HOST, default 127.0.0.1) and the service ports answer 404 for it. Unset: /metrics is on
   * each service's own port, except the gateway's public port in production (see metricsToken).
   */
  metricsPort: number | undefined;
  metricsHost: string;
  /**
   * METRICS_TOKEN: when set, /metrics answers only `Authorization: Bearer <token>` (401 otherwise),
   * wherever it is served; it also opens /metrics on the gateway's public port in production.
   */
  metricsToken: string | undefined;
  /** METRICS_MAX_OPERATIONS: distinct operation-name labels per service; later names count as "other". */
  maxOperationLabels: number;
  /** Tracing exporter on: OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP[_TRACES]_ENDPOINT set (and not "none", OTEL_SDK_DISABLED not "true"). */
  tracingExporter: boolean;
  /** OTEL_SERVICE_NAME, when the operator names the service themselves (otherwise the service's own name). */
  otelServiceName: string | undefined;
}

export function loadObservabilityConfig(env: NodeJS.ProcessEnv = process.env): ObservabilityConfig {
  const rawPort = env.METRICS_PORT;
  const metricsPort = rawPort === undefined || rawPort === "" ? undefined : int("METRICS_PORT", 0, env);
  const token = env.METRICS_TOKEN || undefined;
  if (token !== undefined && token.length < 16) throw new Error("METRICS_TOKEN must be at least 16 characters");
  const exporter = (env.OTEL_TRACES_EXPORTER ?? "").trim().toLowerCase();
  const endpoint = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const disabled = (env.OTEL_SDK_DISABLED ?? "").toLowerCase() === "true";
  return {
    metricsPort,
    metricsHost: env.METRICS_HOST || "127.0.0.1",
    metricsToken: token,
    maxOperationLabels: count("METRICS_MAX_OPERATIONS", 100, env),
    tracingExporter: !disabled && exporter !== "none" && (exporter !== "" || !!endpoint),
    otelServiceName: env.OTEL_SERVICE_NAME || undefined,
  };
}
