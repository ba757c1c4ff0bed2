import "reflect-metadata";
import { startSubgraph, type SubgraphDefinition } from "../../platform/subgraph.js";
import { runMain } from "../../platform/main.js";
import { entities, migrations } from "./db/index.js";
import { buildWalletSchema } from "./schema/index.js";
import { balanceLoader, profileLoader } from "./schema/user.js";
import { giftEventLoader } from "./schema/gift-event.js";
import { orderLoader } from "./schema/transactions.js";
import { refundsLoader } from "./schema/refunds.js";
import { startWalletBackground, walletServices, type PeerUrls } from "./services.js";
import { attachPaymentWebhook, paymentWebhookRoutes } from "./transport/payment-webhook.js";
import { seedWallet } from "./domain/seed.js";
import { walletSample } from "./transport/metrics.js";
import type { WalletContext, WalletServices } from "./schema/context.js";

export const wallet: SubgraphDefinition<WalletServices, WalletContext> = {
  name: "wallet",
  entities,
  migrations,
  services: (ds) => walletServices(ds),
  background: (services) => startWalletBackground(services),
  routes: (services) => paymentWebhookRoutes(services),
  attach: (server, services) => attachPaymentWebhook(server, services),
  seed: (ds) => seedWallet(ds),
  metrics: (services) => walletSample(services),
  schema: buildWalletSchema,
  context: (base, services) => {
    const ctx = { ...base, services } as WalletContext;
    ctx.loaders = { balance: balanceLoader(ctx), profile: profileLoader(ctx), giftEvent: giftEventLoader(ctx), order: orderLoader(ctx), refunds: refundsLoader(ctx) };
    return ctx;
  },
};

/** `peers`: where the catalog and earnings answer (default CATALOG_URL / EARNINGS_URL); start them first. */
export const startWallet = (opts: Parameters<typeof startSubgraph>[1] & { peers?: Partial<PeerUrls> }) =>
  startSubgraph(opts.peers ? { ...wallet, services: (ds) => walletServices(ds, opts.peers) } : wallet, opts);

runMain(import.meta.url, "wallet", startWallet);
