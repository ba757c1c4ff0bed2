import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig, loadEventTransport, loadStreamMaxQueue } from "../platform/config.js";

// The gateway's own settings (process.env is read only in config modules; the shared ones are in platform/config.ts).
import { DEFAULT_PUBLIC_FETCH_SETTINGS, type PublicFetchSettings } from "./public-fetches.js";

export type SubgraphName = "wallet" | "catalog" | "earnings";
export type SubgraphUrls = Record<SubgraphName, string>;

/** schema/ sits at the repository root both from source (gateway/) and from dist/gateway/. */
export function schemaDir(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  return here.includes("/dist/") ? fileURLToPath(new URL("../../schema/", import.meta.url)) : fileURLToPath(new URL("../schema/", import.meta.url));
}

export function readSupergraph(): string {
  return readFileSync(`${schemaDir()}supergraph.graphql`, "utf8");
}

/** Subgraph URLs from the environment (WALLET_URL, ...), defaulting to the development ports: platform/config.ts's one definition. */
export function subgraphUrlsFromEnv(env: NodeJS.ProcessEnv = process.env): SubgraphUrls {
  return loadConfig(env).subgraphUrls;
}

/** Settings of the shared room path of gateway subscriptions (docs/streaming.md). */
export interface RoomStreamConfig {
  /** Bytes a subscriber's socket may have waiting to be written (ws bufferedAmount) before it is ended with SLOW_CONSUMER. */
  maxBufferedBytes: number;
  /** How long a room (and its upstream subscription) outlives its last subscriber. */
  roomLingerMs: number;
  /** Recent events per room kept (serialized) to resume a reconnecting viewer without an upstream replay. */
  roomReplayEvents: number;
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer (got ${JSON.stringify(raw)})`);
  return n;
}

/** Bounds of the per-client subscription path (gateway/subscriptions/server.ts), read when a SubscriptionGateway starts. */
export interface SubscriptionStreamConfig {
  /** STREAM_MAX_QUEUE: results a client may have queued before its subscription is ended as too slow. */
  maxQueue: number;
  /** STREAM_SLOW_MS: a subscription behind by more than maxQueue/4 events for this long is ended (SLOW_CONSUMER). */
  slowMs: number;
}

export function subscriptionStreamConfigFromEnv(env: NodeJS.ProcessEnv = process.env): SubscriptionStreamConfig {
  return { maxQueue: loadStreamMaxQueue(env), slowMs: positiveInt(env, "STREAM_SLOW_MS", 10_000) };
}

/** SUBGRAPH_MAX_SOCKETS: connections per subgraph in the gateway's fetch pool (gateway/fetcher.ts), at least 1. */
export function subgraphMaxSocketsFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const n = positiveInt(env, "SUBGRAPH_MAX_SOCKETS", 128);
  if (n < 1) throw new Error("SUBGRAPH_MAX_SOCKETS must be at least 1");
  return n;
}

/**
 * @apollo/gateway otherwise phones home with usage metrics and probes cloud metadata endpoints
 * at start-up: neither belongs in a payments platform's gateway (an operator may still set it).
 */
export function disableApolloTelemetry(env: NodeJS.ProcessEnv = process.env): void {
  env.APOLLO_TELEMETRY_DISABLED ??= "true";
}

export function roomStreamConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RoomStreamConfig {
  return {
    maxBufferedBytes: positiveInt(env, "STREAM_MAX_BUFFERED_BYTES", 1 << 20),
    roomLingerMs: positiveInt(env, "STREAM_ROOM_LINGER_MS", 2_000),
    roomReplayEvents: positiveInt(env, "STREAM_ROOM_REPLAY_EVENTS", 1_000),
  };
}

/**
 * Where the gateway's rooms get their live feed (gateway/subscriptions/feed-bus.ts): with NATS_URL,
 * one NATS subscription per room on `<NATS_FEED_SUBJECT_PREFIX>.room.<liveSessionId>`; without it,
 * one subscription per room to earnings' stream (PostgreSQL NOTIFY behind it). Replay reads
 * PostgreSQL through earnings either way.
 */
export interface FeedBusConfig {
  natsUrl: string | undefined;
  feedSubjectPrefix: string;
}

export function feedBusConfigFromEnv(env: NodeJS.ProcessEnv = process.env): FeedBusConfig {
  const { natsUrl, feedSubjectPrefix } = loadEventTransport(env);
  return { natsUrl, feedSubjectPrefix };
}

/**
 * Merging and caching of caller-independent subgraph fetches (gateway/public-fetches.ts):
 * PUBLIC_FETCH_MERGE (`on` | `off`, default on), PUBLIC_FETCH_CACHE_TTL_MS (default 2000; 0 = never cached),
 * PUBLIC_FETCH_CACHE_MAX_ENTRIES (default 1000).
 */
export function publicFetchSettingsFromEnv(env: NodeJS.ProcessEnv = process.env): PublicFetchSettings {
  const merge = (env.PUBLIC_FETCH_MERGE ?? "on").trim().toLowerCase();
  if (merge !== "on" && merge !== "off") throw new Error(`PUBLIC_FETCH_MERGE must be "on" or "off" (got ${JSON.stringify(env.PUBLIC_FETCH_MERGE)})`);
  const maxEntries = positiveInt(env, "PUBLIC_FETCH_CACHE_MAX_ENTRIES", DEFAULT_PUBLIC_FETCH_SETTINGS.maxEntries);
  if (maxEntries < 1) throw new Error("PUBLIC_FETCH_CACHE_MAX_ENTRIES must be at least 1");
  return { merge: merge === "on", cacheTtlMs: positiveInt(env, "PUBLIC_FETCH_CACHE_TTL_MS", DEFAULT_PUBLIC_FETCH_SETTINGS.cacheTtlMs), maxEntries };
}

/**
 * PERSISTED_OPERATIONS: `open` (default: any valid operation runs; the manifest's are served
 * prepared) or `required` (only operations in the manifest run, on HTTP and WebSocket alike;
 * anything else is refused with OPERATION_NOT_PERSISTED). gateway/persisted-operations.ts.
 */
export type PersistedOperationsMode = "open" | "required";

export function persistedOperationsModeFromEnv(env: NodeJS.ProcessEnv = process.env): PersistedOperationsMode {
  const raw = (env.PERSISTED_OPERATIONS ?? "").trim().toLowerCase();
  if (raw === "" || raw === "open") return "open";
  if (raw === "required") return "required";
  throw new Error(`PERSISTED_OPERATIONS must be "open" or "required" (got ${JSON.stringify(env.PERSISTED_OPERATIONS)})`);
}
