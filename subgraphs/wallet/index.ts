import "reflect-metadata";
import { startSubgraph, type SubgraphDefinition } from "../../platform/subgraph.js";
import { runMain } from "../../platform/main.js";
import { entities, migrations } from "./db/index.js";
import { AccountService } from "./domain/accounts.js";
import { ProfileService } from "./domain/profiles.js";
import { buildWalletSchema } from "./schema/index.js";
import { balanceLoader, profileLoader } from "./schema/user.js";
import { giftEventLoader } from "./schema/gift-event.js";
import { giftingServices, startGiftingPeers, withPeerUrls, type PeerUrls } from "./peers.js";
import { attachPurchase, purchaseRoutes, purchaseServices, startPurchaseBackground } from "./purchase.js";
import { seedWallet } from "./domain/seed.js";
import { walletSample } from "./metrics.js";
import type { WalletContext, WalletServices } from "./schema/context.js";

export const wallet: SubgraphDefinition<WalletServices, WalletContext> = {
  name: "wallet",
  entities,
  migrations,
  services: (ds) => ({ accounts: new AccountService(ds), profiles: new ProfileService(ds), ...giftingServices(ds), ...purchaseServices(ds) }),
  background: async (services) => {
    const stops = [await startGiftingPeers(services), await startPurchaseBackground(services)];
    return async () => {
      for (const stop of stops.reverse()) await stop();
    };
  },
  routes: (services) => purchaseRoutes(services),
  attach: (server, services) => attachPurchase(server, services),
  seed: (ds) => seedWallet(ds),
  metrics: (services) => walletSample(services),
  schema: buildWalletSchema,
  context: (base, services) => {
    const ctx = { ...base, services } as WalletContext;
    ctx.loaders = { balance: balanceLoader(ctx), profile: profileLoader(ctx), giftEvent: giftEventLoader(ctx) };
    return ctx;
  },
};

/** `peers`: where the catalog and earnings answer (default CATALOG_URL / EARNINGS_URL); start them first. */
export const startWallet = (opts: Parameters<typeof startSubgraph>[1] & { peers?: Partial<PeerUrls> }) =>
  startSubgraph(opts.peers ? withPeerUrls(wallet, opts.peers) : wallet, opts);

runMain(import.meta.url, "wallet", startWallet);
