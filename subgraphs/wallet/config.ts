import { loadConfig, type Config } from "../../platform/config.js";
import { DEFAULT_VELOCITY, type VelocityLimits } from "./domain/recharge-limits.js";

/** The wallet's purchase-side settings, read and validated once (on top of the common config). */
export interface WalletPurchaseConfig {
  webhookSecret: string;
  webhookToleranceSeconds: number;
  /** Sandbox: send webhooks for final outcomes by itself (on in development, off in tests which deliver by hand). */
  sandboxAutoWebhooks: boolean;
  /** Sandbox: pm_async_* settle by themselves after this many ms; null = only on demand. */
  sandboxAutoSettleMs: number | null;
  velocity: VelocityLimits;
  /** How often the reconciler asks the provider about orders stuck in flight (ms; 0 disables). */
  reconcileEveryMs: number;
}

function nonNegativeInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

export function loadWalletConfig(env: NodeJS.ProcessEnv = process.env, base: Config = loadConfig(env)): WalletPurchaseConfig {
  const testing = base.env === "test" || env.VITEST !== undefined;
  return {
    webhookSecret: base.webhookSecret,
    webhookToleranceSeconds: nonNegativeInt(env, "PAYMENT_WEBHOOK_TOLERANCE_SECONDS", 300),
    sandboxAutoWebhooks: env.PAYMENT_SANDBOX_AUTO_WEBHOOKS ? env.PAYMENT_SANDBOX_AUTO_WEBHOOKS === "true" : !testing,
    sandboxAutoSettleMs: env.PAYMENT_SANDBOX_SETTLE_MS ? nonNegativeInt(env, "PAYMENT_SANDBOX_SETTLE_MS", 3000) : testing ? null : 3000,
    velocity: {
      maxOrdersPerHour: nonNegativeInt(env, "WALLET_MAX_ORDERS_PER_HOUR", DEFAULT_VELOCITY.maxOrdersPerHour),
      maxCoinsPerDay: nonNegativeInt(env, "WALLET_MAX_COINS_PER_DAY", DEFAULT_VELOCITY.maxCoinsPerDay),
    },
    reconcileEveryMs: nonNegativeInt(env, "WALLET_RECONCILE_EVERY_MS", testing ? 0 : 30_000),
  };
}

/**
 * sendGift's group commit (domain/send-batch.ts, docs/gifting.md "Group commit"): concurrent sends in
 * one wallet process go to PostgreSQL together, one statement and one commit per batch.
 */
export interface SendBatchConfig {
  /** SEND_BATCH_MAX_SIZE: a batch is flushed as soon as it holds this many sends (1 = no batching). */
  maxSize: number;
  /** SEND_BATCH_MAX_WAIT_MS: ...or when its oldest send has waited this long (0 = never wait for company). It waits only when company is coming (platform/group-commit.ts, DECISIONS 135). */
  maxWaitMs: number;
  /**
   * SEND_BATCH_MAX_IN_FLIGHT: batches running at once (each holds one pool connection); more sends wait for a slot and
   * join the next batch. 1: the sends that arrive while a batch runs go together in the next one (DECISIONS 130).
   */
  maxInFlight: number;
}

export const SEND_BATCH_DEFAULTS: SendBatchConfig = { maxSize: 64, maxWaitMs: 2, maxInFlight: 1 };

function intIn(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return n;
}

export function loadSendBatchConfig(env: NodeJS.ProcessEnv = process.env): SendBatchConfig {
  return {
    maxSize: intIn(env, "SEND_BATCH_MAX_SIZE", SEND_BATCH_DEFAULTS.maxSize, 1, 1000),
    maxWaitMs: intIn(env, "SEND_BATCH_MAX_WAIT_MS", SEND_BATCH_DEFAULTS.maxWaitMs, 0, 1000),
    maxInFlight: intIn(env, "SEND_BATCH_MAX_IN_FLIGHT", SEND_BATCH_DEFAULTS.maxInFlight, 1, 64),
  };
}
