import type { DataSource } from "typeorm";
import { CatalogClient } from "../catalog/transport/owner-reads-client.js";
import { loadConfig } from "../../platform/config.js";
import { logger } from "../../platform/logger.js";
import { EarningsClient } from "../earnings/transport/owner-reads-client.js";
import { MoneyRateLimiter } from "../../platform/money-rate-limit.js";
import { ServiceSigner } from "../../platform/service-auth.js";
import { AccountService } from "./domain/accounts.js";
import { CoinPackageService } from "./domain/coin-packages.js";
import { GiftingService } from "./domain/gifting.js";
import { HistoryService } from "./domain/history.js";
import { SandboxPaymentProvider } from "./domain/payments/sandbox.js";
import { ProfileService } from "./domain/profiles.js";
import { RechargeService } from "./domain/recharge.js";
import { SpendingLimitService } from "./domain/spending-limit-settings.js";
import { loadSendBatchConfig, loadWalletConfig, type WalletPurchaseConfig } from "./config.js";
import type { GiftingServices, PurchaseServices, WalletServices } from "./schema/context.js";

/**
 * Where the owners the wallet reads from answer: sendGift asks the catalog (price, availability)
 * and earnings (host, live session) through their own clients (`transport/owner-reads-client.ts`
 * in each owner's folder), over HTTP, never their tables. Defaults: CATALOG_URL / EARNINGS_URL.
 */
export interface PeerUrls {
  catalog: string;
  earnings: string;
}

/** The wallet's services for one process; `peers` overrides the owners' URLs (tests start them on free ports). */
export function walletServices(ds: DataSource, peers: Partial<PeerUrls> = {}): WalletServices {
  return { accounts: new AccountService(ds), profiles: new ProfileService(ds), ...giftingServices(ds, peers), ...purchaseServices(ds) };
}

/**
 * Builds sendGift's services. Sends are limited per user by the durable guard (MONEY_RATE_LIMITS,
 * wallet.rate_limits), whatever path they came by; the gateway's in-memory bucket is only the first line.
 */
function giftingServices(ds: DataSource, urls: Partial<PeerUrls>): GiftingServices {
  const config = loadConfig();
  const defaults = config.subgraphUrls;
  // The owners answer only signed callers: the wallet signs its owner reads as "wallet".
  const signer = new ServiceSigner(config, "wallet");
  // The owners NOTIFY on their own database; every subgraph shares the server, so LISTEN where the wallet connects.
  const databaseUrl = (ds.options as { url?: string }).url;
  if (!databaseUrl) throw new Error("wallet: the DataSource has no url to LISTEN on for owner-read invalidations");
  const catalog = new CatalogClient({ url: urls.catalog ?? defaults.catalog, databaseUrl, signer });
  const earnings = new EarningsClient({ url: urls.earnings ?? defaults.earnings, databaseUrl, signer });
  const limiter = new MoneyRateLimiter("wallet", config.moneyRateLimits);
  const batch = loadSendBatchConfig();
  // Each running batch holds a pool connection; the replay checks and balance reads need the rest.
  const poolSize = (ds.options as { poolSize?: number }).poolSize;
  if (poolSize !== undefined && batch.maxInFlight >= poolSize) {
    throw new Error(`SEND_BATCH_MAX_IN_FLIGHT (${batch.maxInFlight}) must be below the wallet's database pool size (${poolSize}, DB_POOL_SIZE)`);
  }
  return { gifting: new GiftingService(ds, { pricing: catalog, hosts: earnings, limiter, batch }), giftingPeers: { catalog, earnings } };
}

/** The purchase side (recharge, payments, limits, history, coin packages); the provider webhook is transport/payment-webhook.ts. */
function purchaseServices(ds: DataSource, config: WalletPurchaseConfig = loadWalletConfig()): PurchaseServices {
  const payments = new SandboxPaymentProvider({
    webhookSecret: config.webhookSecret,
    autoWebhooks: config.sandboxAutoWebhooks,
    autoSettleMs: config.sandboxAutoSettleMs,
  });
  const recharge = new RechargeService(ds, payments, { velocity: config.velocity, limiter: new MoneyRateLimiter("wallet", loadConfig().moneyRateLimits) });
  const coinPackages = new CoinPackageService(ds, async (code) => (await recharge.regions()).find((r) => r.region === code) ?? null);
  return { recharge, payments, history: new HistoryService(ds), spendingLimits: new SpendingLimitService(ds, recharge), coinPackages, purchaseConfig: config };
}

/** The background hook: the owner-read invalidation listeners and the recharge reconciler; returns the stopper. */
export async function startWalletBackground(s: WalletServices): Promise<() => Promise<void>> {
  const stops = [await startGiftingPeers(s), startReconciler(s)];
  return async () => {
    for (const stop of stops.reverse()) await stop();
  };
}

async function startGiftingPeers(s: GiftingServices): Promise<() => Promise<void>> {
  await Promise.all([s.giftingPeers.catalog.start(), s.giftingPeers.earnings.start()]);
  return async () => {
    // Sends already past their owner reads are written (or answered) before the database goes away.
    await s.gifting.batches.drain();
    await Promise.all([s.giftingPeers.catalog.stop(), s.giftingPeers.earnings.stop()]);
  };
}

/** The reconciler: asks the provider about orders that waited too long (lost webhooks). */
function startReconciler(s: PurchaseServices): () => Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  if (s.purchaseConfig.reconcileEveryMs > 0) {
    timer = setInterval(() => {
      running = s.recharge.reconcile().catch((e) => logger.warn({ err: String(e) }, "reconcile failed"));
    }, s.purchaseConfig.reconcileEveryMs);
    timer.unref();
  }
  return async () => {
    if (timer) clearInterval(timer);
    s.payments.stop();
    await running;
  };
}
