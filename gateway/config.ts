import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig, loadEventTransport } from "../platform/config.js";

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
