import type { DataSource } from "typeorm";
import type { MoneyRateLimiter } from "../../../../platform/money-rate-limit.js";
import type { VelocityLimits } from "../recharge-limits.js";
import type { PaymentProvider } from "../payments/provider.js";
import type { PaymentMethodType } from "../regions.js";
import type { InFlight } from "./in-flight.js";
import type { OrderStatus } from "./transitions.js";

export type { OrderStatus } from "./transitions.js";

export interface RegionInfo {
  region: string;
  currency: string;
  locale: string;
  customPriceMinor: number;
  customPriceCoins: number;
  paymentMethods: PaymentMethodType[];
}

export interface CoinPackageView {
  id: string;
  region: string;
  coins: number;
  bonusCoins: number;
  promotionEndsAt: string | null;
  priceMinor: number;
  currency: string;
  locale: string;
}

export interface OrderView {
  id: string;
  userId: string;
  status: OrderStatus;
  packageId: string | null;
  region: string;
  coins: number;
  bonusCoins: number;
  amountMinor: number;
  currency: string;
  locale: string;
  paymentMethodType: string;
  failureCode: string | null;
  nextAction: { type: string; redirectUrl: string } | null;
  coinsReversed: number | null;
  debtRecorded: number | null;
  reversalReason: string | null;
  /** Money refunded so far (partial refunds add up; a full reversal by the provider counts the whole amount). */
  refundedMinor: number;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  reversedAt: string | null;
}

export interface RechargeRequest {
  packageId?: string | null;
  customCoins?: number | null;
  region?: string | null;
  paymentMethod: { type: string; token: string };
  idempotencyKey: string;
  /** The package price the buyer was shown (minor units); a different current price is PRICE_CHANGED. Not part of the request hash. */
  expectedAmountMinor?: number | null;
  /** The bonus the buyer was shown; less bonus now (promotion ended) is PROMOTION_ENDED. Not part of the request hash. */
  expectedBonusCoins?: number | null;
}

export interface RechargeOptions {
  velocity?: VelocityLimits;
  /** How long a duplicate request waits for an in-flight original before answering with its current state. */
  inFlightWaitMs?: number;
  /** A PROCESSING order untouched this long is considered interrupted and may be re-driven. */
  staleProcessingMs?: number;
  abandonAfterMs?: number;
  /** The durable per-user recharge / confirmRecharge limit (default: MONEY_MUTATION_LIMITS in wallet.rate_limits). */
  limiter?: MoneyRateLimiter;
}

/** Who moved the order (wallet.recharge_order_events.source). */
export type Source = "api" | "confirm" | "webhook" | "admin" | "reconciler";

/** A tokenised payment method as the buyer gave it (never stored). */
export type PaymentMethod = { type: string; token: string };

/**
 * What every step needs: the RechargeService itself (domain/recharge.ts). Settings are read at
 * the moment of use, so an operator (or a test) changing one on the running service takes effect.
 */
export interface RechargeCore {
  readonly dataSource: DataSource;
  readonly provider: PaymentProvider;
  readonly velocity: VelocityLimits;
  readonly limiter: MoneyRateLimiter;
  readonly inFlightWaitMs: number;
  readonly staleProcessingMs: number;
  readonly abandonAfterMs: number;
  readonly inFlight: InFlight;
}
