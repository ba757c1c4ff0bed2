import { logger } from "../logger.js";
import { Counter, Gauge } from "prom-client";
import { m, registry } from "./families.js";

/**
 * State sampled at scrape time from the registered sources, at most once a second however often
 * /metrics is asked, one sampling at a time, each sampler bounded by a timeout — so /metrics is
 * not a way to load the database. Counts of the same service from several sources add up; lags
 * and maxima take the max.
 */
const SAMPLE_EVERY_MS = 1000;
const SAMPLE_TIMEOUT_MS = 2000;

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
  /** Group commit queues (platform/group-commit.ts): items waiting and batches running, per queue. */
  groupCommits?: { queue: string; queued: number; inFlight: number }[];
}

export interface PoolLike {
  totalCount: number;
  idleCount: number;
  waitingCount: number;
  options: { max?: number };
  connect: (...args: unknown[]) => unknown;
}

export interface Source {
  service: string;
  pool: PoolLike | null;
  sample?: () => Sample | Promise<Sample>;
}

const sources = new Set<Source>();

/** Adds a source to every scrape from now on; returns its removal. */
export function addSource(source: Source): () => void {
  sources.add(source);
  return () => void sources.delete(source);
}

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

/** Sums and maxima of one scrape, per metric, keyed by `service` or `service\0label`. */
class Aggregate {
  readonly sums = new Map<string, Map<Key, number>>();
  readonly maxes = new Map<string, Map<Key, number>>();
  readonly roomSizes = new Map<Key, number[]>();

  sum(name: string, key: Key, v: number | undefined): void {
    add(this.sums.get(name) ?? (this.sums.set(name, new Map()), this.sums.get(name)!), key, v);
  }

  max(name: string, key: Key, v: number): void {
    max(this.maxes.get(name) ?? (this.maxes.set(name, new Map()), this.maxes.get(name)!), key, v);
  }

  rooms(key: Key, sizes: number[]): void {
    const list = this.roomSizes.get(key) ?? [];
    for (const size of sizes) list.push(size);
    this.roomSizes.set(key, list);
  }
}

const key2 = (service: string, label: string): Key => `${service}\u0000${label}`;

function addPool(agg: Aggregate, svc: string, pool: PoolLike): void {
  agg.sum("busy", svc, pool.totalCount - pool.idleCount);
  agg.sum("idle", svc, pool.idleCount);
  agg.sum("poolMax", svc, pool.options.max ?? 10);
  agg.sum("waiting", svc, pool.waitingCount);
}

function addStreams(agg: Aggregate, svc: string, s: Sample): void {
  for (const k of s.sockets ?? []) agg.sum("sockets", key2(svc, k.endpoint), k.open);
  agg.sum("subscriptions", svc, s.subscriptions);
  agg.sum("upstream", svc, s.upstreamSockets);
  agg.sum("slow", svc, s.slowConsumersTotal);
  for (const room of s.rooms ?? []) agg.rooms(key2(svc, room.kind), room.sizes);
  if (s.sendQueue) {
    agg.sum("queue", svc, s.sendQueue.items);
    agg.max("queueMax", svc, s.sendQueue.max);
  }
}

function addQueues(agg: Aggregate, svc: string, s: Sample): void {
  for (const c of s.consumers ?? []) {
    agg.max("pending", key2(svc, c.consumer), c.pendingEvents);
    agg.max("lag", key2(svc, c.consumer), c.lagSeconds);
  }
  if (s.webhooks) {
    for (const [status, n] of Object.entries(s.webhooks.byStatus)) agg.sum("webhookSubs", key2(svc, status), n);
    agg.sum("webhookBacklog", svc, s.webhooks.backlogEvents);
    for (const [result, n] of Object.entries(s.webhooks.attempts)) agg.sum("webhookAttempts", key2(svc, result), n);
  }
  for (const [status, n] of Object.entries(s.payouts ?? {})) agg.sum("payouts", key2(svc, status), n);
  for (const g of s.groupCommits ?? []) {
    agg.sum("batchQueued", key2(svc, g.queue), g.queued);
    agg.sum("batchesInFlight", key2(svc, g.queue), g.inFlight);
  }
}

// Reset, then set: series of a source that went away disappear instead of freezing.
function set1(g: Gauge | Counter, map: Map<Key, number> | undefined): void {
  g.reset();
  for (const [k, v] of map ?? []) (g instanceof Gauge ? g.set({ service: k }, v) : g.inc({ service: k }, v));
}

function set2(g: Gauge | Counter, map: Map<Key, number> | undefined, label: string): void {
  g.reset();
  for (const [k, v] of map ?? []) {
    const [service, second] = split(k);
    if (g instanceof Gauge) g.set({ service, [label]: second }, v);
    else g.inc({ service, [label]: second }, v);
  }
}

function publishRooms(roomSizes: Map<Key, number[]>): void {
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

function publish({ sums, maxes, roomSizes }: Aggregate): void {
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
  set2(m.batchQueuedItems, sums.get("batchQueued"), "queue");
  set2(m.batchesInFlight, sums.get("batchesInFlight"), "queue");
  publishRooms(roomSizes);
}

async function refresh(): Promise<void> {
  const list = [...sources];
  const samples = await Promise.all(list.map(async (src) => ({ src, s: await sampleOnce(src) })));
  const agg = new Aggregate();
  for (const { src, s } of samples) {
    if (src.pool) addPool(agg, src.service, src.pool);
    if (!s) continue;
    addQueues(agg, src.service, s);
    addStreams(agg, src.service, s);
  }
  publish(agg);
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
