import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { createHash, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { ApolloServerPlugin } from "@apollo/server";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { DataSource } from "typeorm";
import { GraphQLErrorCode } from "./codes.js";
import { loadObservabilityConfig, type ObservabilityConfig } from "./config.js";
import { logger } from "./logger.js";
import { annotateRequestSpan } from "./tracing.js";

/**
 * Prometheus metrics: ONE registry per process (prom-client), every series labelled with the
 * service that produced it (`service`), so a process that runs several services (the tests,
 * `startStack`) still tells them apart. Label values are bounded: operation names are capped
 * per service (METRICS_MAX_OPERATIONS, then "other"), error codes by shape and count, rooms are
 * a histogram of room sizes (never a label per room), and no user id ever becomes a label.
 *
 * Two kinds of values:
 * - events counted where they happen (requests, errors, pool acquisitions, event lag);
 * - state sampled at scrape time from the registered sources (`useMetrics({ sample })`: pool
 *   gauges, consumer backlog, sockets, queues), at most once a second however often /metrics is
 *   asked, one scrape at a time, each sampler bounded by a timeout — so /metrics is not a way to
 *   load the database.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const ROOM_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
/** Distinct error codes per service; codes are ours (ErrorCode, Apollo's), this only guards a bug. */
const MAX_CODE_LABELS = 100;
const SAMPLE_EVERY_MS = 1000;
const SAMPLE_TIMEOUT_MS = 2000;

const r = [registry];
const m = {
  requests: new Counter({ name: "graphql_requests_total", help: "GraphQL operations by operation name and outcome (ok, error, refused)", labelNames: ["service", "operation", "outcome"], registers: r }),
  duration: new Histogram({ name: "graphql_request_duration_seconds", help: "GraphQL operation latency", labelNames: ["service", "operation", "outcome"], buckets: LATENCY_BUCKETS, registers: r }),
  errors: new Counter({ name: "graphql_errors_total", help: "GraphQL errors by extensions.code (business userErrors are data, not counted here)", labelNames: ["service", "code"], registers: r }),
  poolConnections: new Gauge({ name: "db_pool_connections", help: "Database pool connections by state (busy, idle)", labelNames: ["service", "state"], registers: r }),
  poolMax: new Gauge({ name: "db_pool_max_connections", help: "Database pool size (DB_POOL_SIZE)", labelNames: ["service"], registers: r }),
  poolWaiting: new Gauge({ name: "db_pool_waiting_clients", help: "Requests waiting for a free database connection", labelNames: ["service"], registers: r }),
  poolAcquire: new Histogram({ name: "db_pool_acquire_seconds", help: "Time to get a database connection from the pool (waits included)", labelNames: ["service"], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5], registers: r }),
  poolTimeouts: new Counter({ name: "db_pool_acquire_timeouts_total", help: "Connection requests that gave up after DB_CONNECT_TIMEOUT_MS", labelNames: ["service"], registers: r }),
  pending: new Gauge({ name: "eventlog_pending_events", help: "Events in the log not yet applied by the consumer", labelNames: ["service", "consumer"], registers: r }),
  lag: new Gauge({ name: "eventlog_lag_seconds", help: "Age of the oldest event the consumer has not applied (0 when caught up)", labelNames: ["service", "consumer"], registers: r }),
  eventLag: new Histogram({ name: "event_lag_seconds", help: "Time from a gift's commit (outbox) to the stage: credited (diamonds), delivered (handed to stream subscribers)", labelNames: ["service", "stage"], buckets: LAG_BUCKETS, registers: r }),
  sockets: new Gauge({ name: "ws_connections", help: "Open WebSocket connections by endpoint", labelNames: ["service", "endpoint"], registers: r }),
  subscriptions: new Gauge({ name: "graphql_subscriptions", help: "Active subscriptions", labelNames: ["service"], registers: r }),
  upstreamSockets: new Gauge({ name: "ws_upstream_sockets", help: "Gateway sockets to subgraph streams", labelNames: ["service"], registers: r }),
  rooms: new Gauge({ name: "stream_rooms", help: "Rooms (host streams, live-session feeds) with at least one subscriber", labelNames: ["service", "kind"], registers: r }),
  roomSize: new Histogram({ name: "stream_room_subscribers", help: "Rooms by subscriber count, sampled at scrape time (a distribution, never a label per room)", labelNames: ["service", "kind"], buckets: ROOM_BUCKETS, registers: r }),
  roomMax: new Gauge({ name: "stream_room_max_subscribers", help: "Subscribers of the largest room", labelNames: ["service", "kind"], registers: r }),
  sendQueue: new Gauge({ name: "stream_send_queue_items", help: "Events queued for subscribers, all subscribers together", labelNames: ["service"], registers: r }),
  sendQueueMax: new Gauge({ name: "stream_send_queue_max_items", help: "Events queued for the most backlogged subscriber", labelNames: ["service"], registers: r }),
  slow: new Counter({ name: "stream_slow_consumers_total", help: "Subscriptions ended with SLOW_CONSUMER", labelNames: ["service"], registers: r }),
  webhookSubs: new Gauge({ name: "webhook_subscriptions", help: "Partner webhook subscriptions by status (failing: ENABLED with a failing receiver)", labelNames: ["service", "status"], registers: r }),
  webhookBacklog: new Gauge({ name: "webhook_backlog_events", help: "Webhook events not yet delivered to ENABLED subscriptions (upper bound: log distance)", labelNames: ["service"], registers: r }),
  webhookAttempts: new Counter({ name: "webhook_attempts_total", help: "Webhook delivery attempts by this process, by result", labelNames: ["service", "result"], registers: r }),
  payouts: new Gauge({ name: "payout_queue_payouts", help: "Payouts waiting (REQUESTED) or submitted and unfinished (PROCESSING)", labelNames: ["service", "status"], registers: r }),
  sampleErrors: new Counter({ name: "metrics_sample_errors_total", help: "Samplers that failed or timed out during a scrape", labelNames: ["service"], registers: r }),
};

/** What a service reports at scrape time. Counts of the same service from several sources add up; lags take the max. */
export interface Sample {
  consumers?: { consumer: string; pendingEvents: number; lagSeconds: number }[];
  sockets?: { endpoint: string; open: number }[];
  subscriptions?: number;
  upstreamSockets?: number;
  /** Monotonic total of SLOW_CONSUMER closes. */
  slowConsumersTotal?: number;
  rooms?: { kind: "host" | "session"; sizes: number[] }[];
  sendQueue?: { items: number; max: number };
  webhooks?: { byStatus: Record<string, number>; backlogEvents: number; attempts: Record<string, number> };
  payouts?: Record<string, number>;
}

export interface MetricsOptions {
  /** Service label: lowercase, digits and dashes (gateway, wallet, catalog, earnings, gateway-partner). */
  service: string;
  /** Pool gauges and acquisition waits of this DataSource (initialized, PostgreSQL). */
  dataSource?: DataSource;
  /** State read at scrape time (at most once a second, bounded by a timeout). */
  sample?: () => Sample | Promise<Sample>;
}

interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
  connect: (...args: unknown[]) => unknown;
}

interface Source {
  service: string;
  pool: PoolLike | null;
  sample?: () => Sample | Promise<Sample>;
}

const sources = new Set<Source>();
const SERVICE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

export interface MetricsHandle {
  readonly service: string;
  /** Unregisters the source (its sampled series disappear at the next scrape). */
  stop(): void;
}

/** Registers a service's metrics source. Throws on invalid options (a misconfiguration, caught at start). */
export function useMetrics(opts: MetricsOptions): MetricsHandle {
  if (!opts || typeof opts.service !== "string" || !SERVICE_NAME.test(opts.service)) {
    throw new Error(`useMetrics: service must match ${SERVICE_NAME}, got ${JSON.stringify(opts?.service)}`);
  }
  if (opts.sample !== undefined && typeof opts.sample !== "function") throw new Error("useMetrics: sample must be a function");
  let pool: PoolLike | null = null;
  if (opts.dataSource !== undefined) {
    if (!opts.dataSource.isInitialized) throw new Error("useMetrics: the DataSource must be initialized");
    pool = (opts.dataSource.driver as unknown as { master?: PoolLike }).master ?? null;
    if (!pool || typeof pool.totalCount !== "number" || typeof pool.connect !== "function") throw new Error("useMetrics: the DataSource has no PostgreSQL pool");
    instrumentPool(pool, opts.service);
  }
  const source: Source = { service: opts.service, pool, sample: opts.sample };
  sources.add(source);
  return { service: opts.service, stop: () => void sources.delete(source) };
}

const instrumented = new WeakSet<object>();
const POOL_TIMEOUT = /timeout exceeded when trying to connect/i;

/** Times every pool checkout (TypeORM calls pool.connect(callback) for each query runner). */
function instrumentPool(pool: PoolLike, service: string): void {
  if (instrumented.has(pool)) return;
  instrumented.add(pool);
  const connect = pool.connect.bind(pool);
  const observe = (started: bigint, err: unknown) => {
    m.poolAcquire.observe({ service }, Number(process.hrtime.bigint() - started) / 1e9);
    if (err instanceof Error && POOL_TIMEOUT.test(err.message)) m.poolTimeouts.inc({ service });
  };
  pool.connect = (...args: unknown[]) => {
    const started = process.hrtime.bigint();
    const cb = args[0];
    if (typeof cb === "function") {
      return connect((err: unknown, ...rest: unknown[]) => {
        observe(started, err);
        return (cb as (...a: unknown[]) => unknown)(err, ...rest);
      });
    }
    return (connect() as Promise<unknown>).then(
      (client) => (observe(started, null), client),
      (err) => {
        observe(started, err);
        throw err;
      },
    );
  };
}

// ---- counted where they happen ----

const operationLabels = new Map<string, Set<string>>();
const codeLabels = new Map<string, Set<string>>();
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;
let settings: ObservabilityConfig | null = null;
function config(): ObservabilityConfig {
  return (settings ??= loadObservabilityConfig());
}

/** A bounded label: the first `max` distinct values per service, then `overflow`. */
function bounded(sets: Map<string, Set<string>>, service: string, value: string, max: number, overflow: string): string {
  let set = sets.get(service);
  if (!set) sets.set(service, (set = new Set()));
  if (set.has(value)) return value;
  if (set.size >= max) return overflow;
  set.add(value);
  return value;
}

/** The operation label: the document's operation name; "unnamed" (anonymous), "unknown" (not parsed/resolved), "other" (over the cap). */
export function operationLabel(service: string, name: string | null | undefined, resolved: boolean): string {
  if (!resolved) return "unknown";
  if (!name) return "unnamed";
  if (!GRAPHQL_NAME.test(name)) return "other";
  return bounded(operationLabels, service, name, config().maxOperationLabels, "other");
}

function codeLabel(service: string, code: unknown): string {
  const c = typeof code === "string" && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : code === undefined ? GraphQLErrorCode.InternalServerError : "OTHER";
  return bounded(codeLabels, service, c, MAX_CODE_LABELS, "OTHER");
}

/** Counts and times each GraphQL operation, its errors by code, and names the request's trace span. */
export function metricsPlugin(service: string): ApolloServerPlugin<any> {
  if (!SERVICE_NAME.test(service)) throw new Error(`metricsPlugin: bad service name ${service}`);
  return {
    // Refused while building the context (a bad token): no request pipeline runs, count it here.
    async contextCreationDidFail({ error }) {
      const code = (error as { extensions?: { code?: unknown } }).extensions?.code;
      m.requests.inc({ service, operation: "unknown", outcome: "error" });
      m.errors.inc({ service, code: codeLabel(service, code) });
      annotateRequestSpan("unknown", undefined, [String(code ?? GraphQLErrorCode.InternalServerError)]);
    },
    async requestDidStart() {
      const started = process.hrtime.bigint();
      return {
        async willSendResponse({ errors, operation }) {
          const operationName = operation?.name?.value ?? null;
          const op = operationLabel(service, operationName, operation !== undefined);
          const outcome = errors?.length ? "error" : "ok";
          m.requests.inc({ service, operation: op, outcome });
          m.duration.observe({ service, operation: op, outcome }, Number(process.hrtime.bigint() - started) / 1e9);
          const codes = (errors ?? []).map((e) => e.extensions?.code);
          for (const code of codes) m.errors.inc({ service, code: codeLabel(service, code) });
          annotateRequestSpan(op, operation?.operation, codes.map(String));
        },
      };
    },
  };
}

/** A request refused before GraphQL ran (body too large, token/batch limits): counted with its code. */
export function recordRefusal(service: string, code: string): void {
  m.requests.inc({ service, operation: "unknown", outcome: "refused" });
  m.errors.inc({ service, code: codeLabel(service, code) });
}

/** Time from an event's commit (its `createdAt`/`sentAt`) to a stage (credited, delivered). */
export function observeEventLag(service: string, stage: "credited" | "delivered", since: Date, now = Date.now()): void {
  const s = (now - since.getTime()) / 1000;
  if (Number.isFinite(s)) m.eventLag.observe({ service, stage }, Math.max(0, s));
}

// ---- sampled at scrape time ----

let lastSampled = 0;
let sampling: Promise<void> | null = null;

async function sampleOnce(src: Source): Promise<Sample | null> {
  if (!src.sample) return null;
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve().then(() => src.sample!()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error("sampler timed out")), SAMPLE_TIMEOUT_MS);
        timer.unref();
      }),
    ]);
  } catch (err) {
    m.sampleErrors.inc({ service: src.service });
    logger.warn({ service: src.service, err: err instanceof Error ? err.message : String(err) }, "metrics sampler failed");
    return null;
  } finally {
    clearTimeout(timer);
  }
}

type Key = string;
const add = (map: Map<Key, number>, key: Key, v: number | undefined) => {
  if (typeof v === "number" && Number.isFinite(v)) map.set(key, (map.get(key) ?? 0) + v);
};
const max = (map: Map<Key, number>, key: Key, v: number) => {
  if (Number.isFinite(v)) map.set(key, Math.max(map.get(key) ?? 0, v));
};
const split = (k: Key) => k.split("\u0000");

async function refresh(): Promise<void> {
  const list = [...sources];
  const samples = await Promise.all(list.map(async (src) => ({ src, s: await sampleOnce(src) })));
  const sums = new Map<string, Map<Key, number>>();
  const sum = (name: string) => sums.get(name) ?? (sums.set(name, new Map()), sums.get(name)!);
  const maxes = new Map<string, Map<Key, number>>();
  const mx = (name: string) => maxes.get(name) ?? (maxes.set(name, new Map()), maxes.get(name)!);
  const roomSizes = new Map<Key, number[]>();
  for (const { src, s } of samples) {
    const svc = src.service;
    if (src.pool) {
      const busy = src.pool.totalCount - src.pool.idleCount;
      add(sum("busy"), svc, busy);
      add(sum("idle"), svc, src.pool.idleCount);
      add(sum("poolMax"), svc, src.pool.options.max ?? 10);
      add(sum("waiting"), svc, src.pool.waitingCount);
    }
    if (!s) continue;
    for (const c of s.consumers ?? []) {
      max(mx("pending"), `${svc}\u0000${c.consumer}`, c.pendingEvents);
      max(mx("lag"), `${svc}\u0000${c.consumer}`, c.lagSeconds);
    }
    for (const k of s.sockets ?? []) add(sum("sockets"), `${svc}\u0000${k.endpoint}`, k.open);
    add(sum("subscriptions"), svc, s.subscriptions);
    add(sum("upstream"), svc, s.upstreamSockets);
    add(sum("slow"), svc, s.slowConsumersTotal);
    for (const room of s.rooms ?? []) {
      const key = `${svc}\u0000${room.kind}`;
      const list = roomSizes.get(key) ?? [];
      for (const size of room.sizes) list.push(size);
      roomSizes.set(key, list);
    }
    if (s.sendQueue) {
      add(sum("queue"), svc, s.sendQueue.items);
      max(mx("queueMax"), svc, s.sendQueue.max);
    }
    if (s.webhooks) {
      for (const [status, n] of Object.entries(s.webhooks.byStatus)) add(sum("webhookSubs"), `${svc}\u0000${status}`, n);
      add(sum("webhookBacklog"), svc, s.webhooks.backlogEvents);
      for (const [result, n] of Object.entries(s.webhooks.attempts)) add(sum("webhookAttempts"), `${svc}\u0000${result}`, n);
    }
    for (const [status, n] of Object.entries(s.payouts ?? {})) add(sum("payouts"), `${svc}\u0000${status}`, n);
  }
  // Reset, then set: series of a source that went away disappear instead of freezing.
  const set1 = (g: Gauge | Counter, map: Map<Key, number> | undefined) => {
    g.reset();
    for (const [k, v] of map ?? []) (g instanceof Gauge ? g.set({ service: k }, v) : g.inc({ service: k }, v));
  };
  const set2 = (g: Gauge | Counter, map: Map<Key, number> | undefined, label: string) => {
    g.reset();
    for (const [k, v] of map ?? []) {
      const [service, second] = split(k);
      if (g instanceof Gauge) g.set({ service, [label]: second }, v);
      else g.inc({ service, [label]: second }, v);
    }
  };
  m.poolConnections.reset();
  for (const [svc, v] of sums.get("busy") ?? []) m.poolConnections.set({ service: svc, state: "busy" }, v);
  for (const [svc, v] of sums.get("idle") ?? []) m.poolConnections.set({ service: svc, state: "idle" }, v);
  set1(m.poolMax, sums.get("poolMax"));
  set1(m.poolWaiting, sums.get("waiting"));
  set2(m.pending, maxes.get("pending"), "consumer");
  set2(m.lag, maxes.get("lag"), "consumer");
  set2(m.sockets, sums.get("sockets"), "endpoint");
  set1(m.subscriptions, sums.get("subscriptions"));
  set1(m.upstreamSockets, sums.get("upstream"));
  set1(m.slow, sums.get("slow"));
  set1(m.sendQueue, sums.get("queue"));
  set1(m.sendQueueMax, maxes.get("queueMax"));
  set2(m.webhookSubs, sums.get("webhookSubs"), "status");
  set1(m.webhookBacklog, sums.get("webhookBacklog"));
  set2(m.webhookAttempts, sums.get("webhookAttempts"), "result");
  set2(m.payouts, sums.get("payouts"), "status");
  m.rooms.reset();
  m.roomSize.reset();
  m.roomMax.reset();
  for (const [k, sizes] of roomSizes) {
    const [service, kind] = split(k);
    m.rooms.set({ service, kind }, sizes.length);
    m.roomMax.set({ service, kind }, sizes.reduce((a, b) => Math.max(a, b), 0));
    for (const size of sizes) m.roomSize.observe({ service, kind }, size);
  }
}

/** Samples (at most once a second, one at a time) and renders the registry in Prometheus text format. */
export async function metricsText(): Promise<string> {
  if (Date.now() - lastSampled >= SAMPLE_EVERY_MS) {
    sampling ??= refresh().finally(() => {
      lastSampled = Date.now();
      sampling = null;
    });
  }
  if (sampling) await sampling;
  return registry.metrics();
}

/** Names of every metric family in the registry (the ops/ files are checked against it). */
export function metricNames(): string[] {
  return (registry.getMetricsAsArray() as { name: string }[]).map((x) => x.name);
}

// ---- serving /metrics ----

export interface MetricsExposure {
  /** Serve /metrics on this service's own port. */
  onServicePort: boolean;
  token: string | undefined;
}

/**
 * Where /metrics is served for a service (docs/observability.md): with METRICS_PORT only there;
 * otherwise on the service's own port, except the gateway's public port in production unless a
 * METRICS_TOKEN protects it. A token, when set, is required everywhere.
 */
export function metricsExposure(opts: { edge: boolean; production: boolean }, cfg: ObservabilityConfig = config()): MetricsExposure {
  if (cfg.metricsPort !== undefined) return { onServicePort: false, token: cfg.metricsToken };
  return { onServicePort: !(opts.edge && opts.production && !cfg.metricsToken), token: cfg.metricsToken };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const header = req.headers.authorization;
  if (typeof header !== "string" || !header.startsWith("Bearer ")) return false;
  return timingSafeEqual(digest(header.slice(7)), digest(token));
}

/** Answers GET /metrics; false when /metrics is not served here (the caller answers 404). */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, exposure: MetricsExposure): Promise<boolean> {
  if (!exposure.onServicePort) return false;
  await writeMetrics(req, res, exposure.token);
  return true;
}

async function writeMetrics(req: IncomingMessage, res: ServerResponse, token: string | undefined): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  if (!authorized(req, token)) {
    res.writeHead(401, { "www-authenticate": 'Bearer realm="metrics"', "content-type": "text/plain" }).end("unauthorized\n");
    return;
  }
  const text = await metricsText();
  res.writeHead(200, { "content-type": registry.contentType, "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : text);
}

let listener: { server: http.Server; users: number; url: Promise<string> } | null = null;

/**
 * The process's own metrics listener on METRICS_PORT (only /metrics, nothing else), started by the
 * first service that needs it, closed when the last one stops. Returns its URL and a release.
 */
export function acquireMetricsListener(cfg: ObservabilityConfig = config()): { url: Promise<string>; release: () => Promise<void> } | null {
  if (cfg.metricsPort === undefined) return null;
  if (!listener) {
    const server = http.createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (path !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      writeMetrics(req, res, cfg.metricsToken).catch(() => res.writable && res.writeHead(500).end());
    });
    const url = new Promise<string>((resolve, reject) => {
      server.once("error", reject);
      server.listen(cfg.metricsPort, cfg.metricsHost, () => resolve(`http://${cfg.metricsHost}:${(server.address() as AddressInfo).port}/metrics`));
    });
    listener = { server, users: 0, url };
  }
  const held = listener;
  held.users++;
  let released = false;
  return {
    url: held.url,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      if (listener === held) listener = null;
      await new Promise<void>((res) => held.server.close(() => res()));
    },
  };
}

/** Tests: read the settings again (after changing METRICS_* in process.env). */
export function reloadMetricsConfig(cfg?: ObservabilityConfig): void {
  settings = cfg ?? null;
}

/** The URL of the process's METRICS_PORT listener while one runs (tests, start-up logs). */
export function metricsListenerUrl(): Promise<string> | null {
  return listener?.url ?? null;
}
