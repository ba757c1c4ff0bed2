import { loadConfig, type Config } from "../../platform/config.js";

/** The earnings subgraph's own settings, read and validated once (process.env is read only in config modules). */
export interface EarningsConfig {
  /** Daily UTC time of the scheduled payout run ({ hour, minute }); null = no scheduler (tests; operators run processPayouts). */
  payoutScheduleUtc: { hour: number; minute: number } | null;
  /** Payouts claimed per batch within a run. */
  payoutBatchSize: number;
  /** Most payouts one run submits (the rest wait for the next run). */
  payoutRunMax: number;
}

/** "HH:MM" (24 h, UTC) → { hour, minute }; "off" / "" → null. */
export function parseScheduleUtc(raw: string | undefined, fallback: string | null): { hour: number; minute: number } | null {
  const v = raw === undefined ? fallback : raw.trim();
  if (v === null || v === "" || v.toLowerCase() === "off") return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v);
  if (!m) throw new Error(`PAYOUT_SCHEDULE_UTC must be HH:MM (UTC, 24 h) or "off", got ${raw}`);
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

function intInRange(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer ${min}..${max}, got ${raw}`);
  return n;
}

const positiveInt = (env: NodeJS.ProcessEnv, name: string, fallback: number, max: number) => intInRange(env, name, fallback, 1, max);

export function loadEarningsConfig(env: NodeJS.ProcessEnv = process.env): EarningsConfig {
  const testing = env.NODE_ENV === "test" || env.VITEST !== undefined;
  return {
    payoutScheduleUtc: parseScheduleUtc(env.PAYOUT_SCHEDULE_UTC, testing ? null : "02:00"),
    payoutBatchSize: positiveInt(env, "PAYOUT_BATCH_SIZE", 100, 1000),
    payoutRunMax: positiveInt(env, "PAYOUT_RUN_MAX", 10_000, 1_000_000),
  };
}

/** Partner webhook delivery settings (docs/partners.md "Webhooks"), read and validated once. */
export interface WebhookConfig {
  /** Production: HTTPS only, and no private, loopback or link-local destinations (SSRF). */
  production: boolean;
  /** Run the dispatcher in this process (every earnings instance may; leases keep deliveries single). */
  dispatch: boolean;
  /** One attempt's deadline (connect + response), ms. */
  timeoutMs: number;
  /** A receiver failing for longer than this is disabled with a reason (EventSub-style "at least 24 h"). */
  retryWindowMs: number;
  /** First retry delay and the cap of the exponential backoff (full jitter), ms. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How often the dispatcher looks for due subscriptions when no NOTIFY woke it, ms. */
  pollMs: number;
  /** Subscriptions delivered concurrently by one dispatcher (each one strictly in order). */
  maxConcurrency: number;
  maxSubscriptionsPerPartner: number;
  /** Events and delivery-log rows older than this are deleted; replay reaches back this far. */
  retentionMs: number;
}

/** COMBO_IDLE_MS: a combo with no gift for this long is ended by the stream's sweeper (domain/feed.ts reads it as it loads). */
export function loadComboIdleMs(env: NodeJS.ProcessEnv = process.env): number {
  return positiveInt(env, "COMBO_IDLE_MS", 5000, 1_000_000_000);
}

/** The gift.sent consumer: how many partitions (by host) its work is split into across instances (at most 1024). */
export function loadConsumerPartitions(env: NodeJS.ProcessEnv = process.env): number {
  return positiveInt(env, "EARNINGS_CONSUMER_PARTITIONS", 64, 1024);
}

/**
 * The gift.sent consumer's linger (ConsumerOptions.lingerMs): after a batch that was not full it waits
 * this long so the gifts arriving meanwhile are credited together (0 turns it off; at most 1 s). 20 ms
 * since DECISIONS 136 (10 before).
 */
export function loadConsumerLingerMs(env: NodeJS.ProcessEnv = process.env): number {
  return intInRange(env, "EARNINGS_CONSUMER_LINGER_MS", 20, 0, 1000);
}

export function loadWebhookConfig(env: NodeJS.ProcessEnv = process.env, base: Config = loadConfig(env)): WebhookConfig {
  return {
    production: base.env === "production",
    dispatch: env.WEBHOOK_DISPATCH !== "false",
    timeoutMs: positiveInt(env, "WEBHOOK_TIMEOUT_MS", 5_000, 1_000_000_000),
    retryWindowMs: positiveInt(env, "WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 3600 + 3600, 1_000_000_000) * 1000,
    backoffBaseMs: positiveInt(env, "WEBHOOK_BACKOFF_BASE_MS", 1_000, 1_000_000_000),
    backoffMaxMs: positiveInt(env, "WEBHOOK_BACKOFF_MAX_MS", 15 * 60_000, 1_000_000_000),
    pollMs: positiveInt(env, "WEBHOOK_POLL_MS", 1_000, 1_000_000_000),
    maxConcurrency: positiveInt(env, "WEBHOOK_MAX_CONCURRENCY", 64, 1_000_000_000),
    maxSubscriptionsPerPartner: positiveInt(env, "WEBHOOK_MAX_SUBSCRIPTIONS_PER_PARTNER", 50, 1_000_000_000),
    retentionMs: positiveInt(env, "WEBHOOK_RETENTION_HOURS", 7 * 24, 1_000_000_000) * 3600_000,
  };
}
