import type { ApolloServerPlugin } from "@apollo/server";
import type { DataSource } from "typeorm";
import { GraphQLErrorCode } from "./codes.js";
import { annotateRequestSpan } from "./tracing.js";
import { m } from "./metrics/families.js";
import { addSource, type PoolLike, type Sample } from "./metrics/sampling.js";
import { metricsConfig } from "./metrics/settings.js";

export { registry } from "./metrics/families.js";
export { metricNames, metricsText, type Sample } from "./metrics/sampling.js";
export { acquireMetricsListener, metricsExposure, metricsListenerUrl, serveMetrics, type MetricsExposure } from "./metrics/exposure.js";
export { reloadMetricsConfig } from "./metrics/settings.js";
export { groupCommitMetrics } from "./metrics/group-commit.js";

/**
 * Prometheus metrics: ONE registry per process (prom-client), every series labelled with the
 * service that produced it (`service`), so a process that runs several services (the tests,
 * `startStack`) still tells them apart. Label values are bounded: operation names are capped
 * per service (METRICS_MAX_OPERATIONS, then "other"), error codes by shape and count, rooms are
 * a histogram of room sizes (never a label per room), and no user id ever becomes a label.
 *
 * Two kinds of values:
 * - events counted where they happen (requests, errors, pool acquisitions, event lag, group-commit batches);
 * - state sampled at scrape time from the registered sources (`useMetrics({ sample })`: pool
 *   gauges, consumer backlog, sockets, queues), at most once a second however often /metrics is
 *   asked, one scrape at a time, each sampler bounded by a timeout — so /metrics is not a way to
 *   load the database.
 *
 * The families live in metrics/families.ts, the scrape-time sampling in metrics/sampling.ts,
 * serving /metrics in metrics/exposure.ts; this module registers services and counts requests.
 */
export interface MetricsOptions {
  /** Service label: lowercase, digits and dashes (gateway, wallet, catalog, earnings, gateway-partner). */
  service: string;
  /** Pool gauges and acquisition waits of this DataSource (initialized, PostgreSQL). */
  dataSource?: DataSource;
  /** State read at scrape time (at most once a second, bounded by a timeout). */
  sample?: () => Sample | Promise<Sample>;
}

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
  const remove = addSource({ service: opts.service, pool, sample: opts.sample });
  return { service: opts.service, stop: remove };
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
/** Distinct error codes per service; codes are ours (ErrorCode, Apollo's), this only guards a bug. */
const MAX_CODE_LABELS = 100;
const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,63}$/;

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
  return bounded(operationLabels, service, name, metricsConfig().maxOperationLabels, "other");
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
