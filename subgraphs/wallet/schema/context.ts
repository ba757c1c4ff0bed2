import type DataLoader from "dataloader";
import type { BaseContext } from "../../../platform/subgraph.js";
import type { CatalogClient } from "../../catalog/transport/owner-reads-client.js";
import type { EarningsClient } from "../../earnings/transport/owner-reads-client.js";
import type { WalletPurchaseConfig } from "../config.js";
import type { AccountService, Balance } from "../domain/accounts.js";
import type { CoinPackageService } from "../domain/coin-packages.js";
import type { GiftEventRecord, GiftingService } from "../domain/gifting.js";
import type { HistoryService } from "../domain/history.js";
import type { SandboxPaymentProvider } from "../domain/payments/sandbox.js";
import type { Profile, ProfileService } from "../domain/profiles.js";
import type { OrderView, RechargeService } from "../domain/recharge.js";
import type { RefundView } from "../domain/refunds.js";
import type { SpendingLimitService } from "../domain/spending-limit-settings.js";

/** sendGift and gift events, with the owner-read clients it asks (built in ../services.ts). */
export interface GiftingServices {
  gifting: GiftingService;
  giftingPeers: { catalog: CatalogClient; earnings: EarningsClient };
}

/** The purchase side of the wallet: recharge, payments, limits, history (the provider webhook: ../transport/payment-webhook.ts). */
export interface PurchaseServices {
  recharge: RechargeService;
  /** The payment provider; the sandbox in development and tests. */
  payments: SandboxPaymentProvider;
  history: HistoryService;
  spendingLimits: SpendingLimitService;
  /** Admin management of coin packages, prices and promotions (domain/coin-packages.ts). */
  coinPackages: CoinPackageService;
  purchaseConfig: WalletPurchaseConfig;
}

/** Built once per process (../services.ts). */
export interface WalletServices extends GiftingServices, PurchaseServices {
  accounts: AccountService;
  profiles: ProfileService;
}

export interface WalletContext extends BaseContext {
  services: WalletServices;
  /** Built in index.ts `context`, one set per request (or per subscription operation): N references → one query each. */
  loaders: {
    balance: DataLoader<string, Balance>;
    profile: DataLoader<string, Profile | null>;
    giftEvent: DataLoader<string, GiftEventRecord | null>;
    /** A history line's recharge order. */
    order: DataLoader<string, OrderView | null>;
    /** A recharge order's refunds. */
    refunds: DataLoader<string, RefundView[]>;
  };
}

