import { loadConfig, type Config } from "../../platform/config.js";
import { DEFAULT_VELOCITY, type VelocityLimits } from "./domain/limits.js";

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
