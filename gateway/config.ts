import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../platform/config.js";
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

/** Subgraph URLs from the environment (WALLET_URL, ...), defaulting to the development ports. */
export function subgraphUrlsFromEnv(env: NodeJS.ProcessEnv = process.env): SubgraphUrls {
  const { ports } = loadConfig(env);
  return {
    wallet: env.WALLET_URL ?? `http://127.0.0.1:${ports.wallet}/graphql`,
    catalog: env.CATALOG_URL ?? `http://127.0.0.1:${ports.catalog}/graphql`,
    earnings: env.EARNINGS_URL ?? `http://127.0.0.1:${ports.earnings}/graphql`,
  };
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

export function roomStreamConfigFromEnv(env: NodeJS.ProcessEnv = process.env): RoomStreamConfig {
  return {
    maxBufferedBytes: positiveInt(env, "STREAM_MAX_BUFFERED_BYTES", 1 << 20),
    roomLingerMs: positiveInt(env, "STREAM_ROOM_LINGER_MS", 2_000),
    roomReplayEvents: positiveInt(env, "STREAM_ROOM_REPLAY_EVENTS", 1_000),
  };
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
