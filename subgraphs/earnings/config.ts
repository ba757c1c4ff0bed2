import { loadConfig, type Config } from "../../platform/config.js";

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

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

/** The gift.sent consumer: how many partitions (by host) its work is split into across instances. */
export function loadConsumerPartitions(env: NodeJS.ProcessEnv = process.env): number {
  const n = positiveInt(env, "EARNINGS_CONSUMER_PARTITIONS", 64);
  if (n > 1024) throw new Error(`EARNINGS_CONSUMER_PARTITIONS must be at most 1024, got ${n}`);
  return n;
}

export function loadWebhookConfig(env: NodeJS.ProcessEnv = process.env, base: Config = loadConfig(env)): WebhookConfig {
  return {
    production: base.env === "production",
    dispatch: env.WEBHOOK_DISPATCH !== "false",
    timeoutMs: positiveInt(env, "WEBHOOK_TIMEOUT_MS", 5_000),
    retryWindowMs: positiveInt(env, "WEBHOOK_RETRY_WINDOW_SECONDS", 24 * 3600 + 3600) * 1000,
    backoffBaseMs: positiveInt(env, "WEBHOOK_BACKOFF_BASE_MS", 1_000),
    backoffMaxMs: positiveInt(env, "WEBHOOK_BACKOFF_MAX_MS", 15 * 60_000),
    pollMs: positiveInt(env, "WEBHOOK_POLL_MS", 1_000),
    maxConcurrency: positiveInt(env, "WEBHOOK_MAX_CONCURRENCY", 64),
    maxSubscriptionsPerPartner: positiveInt(env, "WEBHOOK_MAX_SUBSCRIPTIONS_PER_PARTNER", 50),
    retentionMs: positiveInt(env, "WEBHOOK_RETENTION_HOURS", 7 * 24) * 3600_000,
  };
}
