import type { DataSource } from "typeorm";
import { CatalogClient } from "../catalog/client.js";
import { loadConfig } from "../../platform/config.js";
import type { QueryCounter } from "../../platform/db.js";
import type { SubgraphDefinition, BaseContext } from "../../platform/subgraph.js";
import { EarningsClient } from "../earnings/client.js";
import { MoneyRateLimiter } from "../../platform/money-rate-limit.js";
import { ServiceSigner } from "../../platform/service-auth.js";
import { GiftingService } from "./domain/gifting.js";
import { loadSendBatchConfig } from "./config.js";

/**
 * The wallet's owner reads: sendGift asks the catalog (price, availability) and earnings
 * (host, live session) through their own clients, over HTTP, never their tables.
 */
export interface PeerUrls {
  catalog: string;
  earnings: string;
}

export interface GiftingServices {
  gifting: GiftingService;
  giftingPeers: { catalog: CatalogClient; earnings: EarningsClient };
}

/**
 * Builds sendGift's services. URLs default to CATALOG_URL / EARNINGS_URL (config). Sends are
 * limited per user by the durable guard (MONEY_RATE_LIMITS, wallet.rate_limits), whatever path
 * they came by; the gateway's in-memory bucket is only the first line.
 */
export function giftingServices(ds: DataSource, urls: Partial<PeerUrls> = {}): GiftingServices {
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

/** Starts the invalidation listeners (background hook); returns the stopper. */
export async function startGiftingPeers(s: GiftingServices): Promise<() => Promise<void>> {
  await Promise.all([s.giftingPeers.catalog.start(), s.giftingPeers.earnings.start()]);
  return async () => {
    // Sends already past their owner reads are written (or answered) before the database goes away.
    await s.gifting.batches.drain();
    await Promise.all([s.giftingPeers.catalog.stop(), s.giftingPeers.earnings.stop()]);
  };
}

/** The same definition with explicit peer URLs (tests start peers on free ports). */
export function withPeerUrls<S extends GiftingServices, C extends BaseContext>(def: SubgraphDefinition<S, C>, urls: Partial<PeerUrls>): SubgraphDefinition<S, C> {
  return {
    ...def,
    services: async (ds: DataSource, queries: QueryCounter) => ({ ...(await def.services(ds, queries)), ...giftingServices(ds, urls) }),
  };
}
