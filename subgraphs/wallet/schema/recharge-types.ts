import { Directive, Field, ID, InputType, Int, ObjectType, registerEnumType } from "type-graphql";
import { UserError } from "../../../platform/errors.js";
import { Money, money } from "../../../platform/money.js";
import type { CoinPackageView, OrderView, RegionInfo } from "../domain/recharge.js";
import { shownAs } from "../domain/recharge/transitions.js";
import { MAX_CUSTOM_COINS, MIN_CUSTOM_COINS, PAYMENT_METHOD_TYPES } from "../domain/regions.js";
import { Wallet } from "./user.js";

/** The recharge side's GraphQL types and inputs (resolvers: recharge.ts). */

export enum PaymentMethodType {
  CARD = "CARD",
  PAYPAL = "PAYPAL",
  APPLE_PAY = "APPLE_PAY",
  GOOGLE_PAY = "GOOGLE_PAY",
  SEPA_DEBIT = "SEPA_DEBIT",
  KONBINI = "KONBINI",
  UPI = "UPI",
}
registerEnumType(PaymentMethodType, {
  name: "PaymentMethodType",
  description: "How the viewer pays. CARD, PAYPAL, APPLE_PAY and GOOGLE_PAY everywhere; regional methods where offered (SEPA_DEBIT in DE, KONBINI in JP, UPI in IN).",
});
// The domain's list and this enum must not drift apart.
if (PAYMENT_METHOD_TYPES.length !== Object.keys(PaymentMethodType).length) throw new Error("PaymentMethodType enum out of sync with domain/regions.ts");

export enum RechargeStatus {
  PENDING = "PENDING",
  REQUIRES_ACTION = "REQUIRES_ACTION",
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
  REFUNDED = "REFUNDED",
  CHARGED_BACK = "CHARGED_BACK",
}
registerEnumType(RechargeStatus, {
  name: "RechargeStatus",
  description: "Where a recharge order stands. Coins are credited exactly once, on SUCCEEDED.",
  valuesConfig: {
    PENDING: { description: "Waiting for the payment provider (asynchronous methods settle later; poll rechargeOrder)." },
    REQUIRES_ACTION: { description: "The viewer must complete nextAction (3-D Secure), then call confirmRecharge." },
    SUCCEEDED: { description: "Paid; the coins (and any bonus) are in the wallet." },
    FAILED: { description: "Not paid (see failureCode); nothing was charged or credited." },
    REFUNDED: { description: "The money was returned; unspent coins were taken back, the rest recorded as debt." },
    CHARGED_BACK: { description: "The cardholder disputed the payment; unspent coins were taken back, the rest recorded as debt." },
  },
});

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A limited-time promotion on a coin package." })
export class CoinPromotion {
  @Field(() => Int, { description: "Extra coins granted with the package while the promotion runs." })
  bonusCoins: number;

  @Field(() => Date, { description: "When the promotion ends; an order placed before this keeps its bonus." })
  endsAt: Date;
}

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A coin package for sale in one region, at a fixed price in the region's currency." })
export class CoinPackage {
  @Field(() => ID, { description: "Stable package id, e.g. pkg_US_70; pass it to recharge as packageId." })
  id: string;

  @Field({ description: "ISO 3166 alpha-2 region the package is sold in." })
  region: string;

  @Field(() => Int, { description: "Coins bought." })
  coins: number;

  @Field(() => Int, { description: "Bonus coins from an active promotion (0 when none)." })
  bonusCoins: number;

  @Field(() => Int, { description: "coins + bonusCoins: what the wallet receives." })
  totalCoins: number;

  @Field(() => CoinPromotion, { nullable: true, description: "The active promotion, with its end time; null when none." })
  promotion: CoinPromotion | null;

  @Field(() => Money, { description: "The price, in the region's currency." })
  price: Money;

  @Directive('@tag(name: "internal")')
  @Field(() => Date, { nullable: true, description: "Operations: when the package was retired (taken off sale); null while on sale. Set in admin lists only." })
  retiredAt: Date | null;

  static fromRecord(p: CoinPackageView & { retiredAt: string | null }): CoinPackage {
    return Object.assign(CoinPackage.from(p), { retiredAt: p.retiredAt ? new Date(p.retiredAt) : null });
  }

  static from(p: CoinPackageView): CoinPackage {
    return Object.assign(new CoinPackage(), {
      id: p.id,
      region: p.region,
      coins: p.coins,
      bonusCoins: p.bonusCoins,
      totalCoins: p.coins + p.bonusCoins,
      promotion: p.promotionEndsAt ? Object.assign(new CoinPromotion(), { bonusCoins: p.bonusCoins, endsAt: new Date(p.promotionEndsAt) }) : null,
      price: money(p.priceMinor, p.currency, p.locale),
      retiredAt: null,
    });
  }
}

@ObjectType({ description: "What a recharge screen needs for a region: currency, payment methods and custom-amount bounds." })
export class RechargeOptions {
  @Field({ description: "The region these options apply to (the requested one, or US when it is not supported)." })
  region: string;

  @Field({ description: "ISO 4217 currency charged in this region." })
  currency: string;

  @Field(() => [PaymentMethodType], { description: "Payment method types accepted in this region." })
  paymentMethods: PaymentMethodType[];

  @Field(() => Int, { description: "Smallest custom amount, in coins." })
  minCustomCoins: number;

  @Field(() => Int, { description: "Largest custom amount per order, in coins." })
  maxCustomCoins: number;

  info: RegionInfo;
  price: (coins: number) => number;
}

export enum RechargeNextActionType {
  THREE_D_SECURE = "THREE_D_SECURE",
}
registerEnumType(RechargeNextActionType, {
  name: "RechargeNextActionType",
  description: "What the viewer must do before a REQUIRES_ACTION order can complete.",
  valuesConfig: { THREE_D_SECURE: { description: "Open redirectUrl (the bank's 3-D Secure challenge), then call confirmRecharge." } },
});

export enum RechargeFailureCode {
  INSUFFICIENT_FUNDS = "INSUFFICIENT_FUNDS",
  EXPIRED_CARD = "EXPIRED_CARD",
  CARD_DECLINED = "CARD_DECLINED",
  AUTHENTICATION_FAILED = "AUTHENTICATION_FAILED",
  INVALID_PAYMENT_METHOD = "INVALID_PAYMENT_METHOD",
  PAYMENT_FAILED = "PAYMENT_FAILED",
}
registerEnumType(RechargeFailureCode, {
  name: "RechargeFailureCode",
  description: "Why a FAILED recharge order failed. Nothing was charged or credited in every case.",
  valuesConfig: {
    INSUFFICIENT_FUNDS: { description: "Declined: not enough money on the card or account. Suggest another payment method." },
    EXPIRED_CARD: { description: "Declined: the card has expired. Ask for another card." },
    CARD_DECLINED: { description: "Declined by the bank (generic; also suspected fraud, stolen or lost cards). Suggest another payment method; do not say why." },
    AUTHENTICATION_FAILED: { description: "3-D Secure was failed or not finished within an hour. The viewer may try again with a new order." },
    INVALID_PAYMENT_METHOD: { description: "The payment-method token was not usable (unknown, already used, wrong type). Tokenise the method again." },
    PAYMENT_FAILED: { description: "An asynchronous method (e.g. a bank debit) failed after being accepted. Suggest another payment method." },
  },
});

@ObjectType({ description: "What the viewer must do before the payment can complete." })
export class RechargeNextAction {
  @Field(() => RechargeNextActionType, { description: "The kind of action; THREE_D_SECURE: open redirectUrl (the bank's challenge), then call confirmRecharge." })
  type: RechargeNextActionType;

  @Field({ description: "Where to send the viewer to complete the action." })
  redirectUrl: string;
}

@ObjectType({ description: "How a refund or chargeback was settled against the wallet." })
export class RechargeReversal {
  @Field(() => Int, { description: "Coins taken back from the balance (the unspent part of the order's coins and bonus)." })
  coinsReversed: number;

  @Field(() => Int, { description: "Coins already spent, recorded as debt; later recharges repay it first and sending gifts is blocked until then." })
  debtRecorded: number;

  @Field(() => Date, { description: "When the coins were taken back." })
  reversedAt: Date;

  @Directive('@tag(name: "internal")')
  @Field(() => String, { nullable: true, description: "Operator's reason. Admins only; null for everyone else." })
  reason: string | null;
}

@ObjectType({ description: "One purchase of coins with real money." })
export class RechargeOrder {
  @Field(() => ID, { description: "Order id (UUID); use it with rechargeOrder and confirmRecharge." })
  id: string;

  @Field(() => RechargeStatus, { description: "Where the order stands; coins are credited once, on SUCCEEDED." })
  status: RechargeStatus;

  @Field(() => Int, { description: "Coins bought." })
  coins: number;

  @Field(() => Int, { description: "Bonus coins from the promotion active when the order was placed." })
  bonusCoins: number;

  @Field(() => Int, { description: "coins + bonusCoins: credited once, on SUCCEEDED." })
  totalCoins: number;

  @Field(() => Money, { description: "What the viewer is charged." })
  price: Money;

  @Field({ description: "Region whose prices applied." })
  region: string;

  @Field(() => ID, { nullable: true, description: "The package bought; null for a custom amount." })
  packageId: string | null;

  @Field(() => PaymentMethodType, { description: "How it was paid." })
  paymentMethodType: PaymentMethodType;

  @Field(() => RechargeFailureCode, { nullable: true, description: "Why a FAILED order failed; null otherwise." })
  failureCode: RechargeFailureCode | null;

  @Field(() => RechargeNextAction, { nullable: true, description: "Set while REQUIRES_ACTION." })
  nextAction: RechargeNextAction | null;

  @Field(() => RechargeReversal, { nullable: true, description: "Set once REFUNDED or CHARGED_BACK." })
  reversal: RechargeReversal | null;

  @Field(() => Money, { description: "Money refunded so far (several partial refunds add up to at most price); zero when none." })
  refundedAmount: Money;

  @Field(() => Date, { description: "When the order was placed." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When it SUCCEEDED or FAILED." })
  completedAt: Date | null;

  userId: string;
  currency: string;
  locale: string;

  static from(o: OrderView, viewerIsAdmin: boolean): RechargeOrder {
    return Object.assign(new RechargeOrder(), {
      id: o.id,
      userId: o.userId,
      // PROCESSING (the provider call is in flight) is not a state clients need to tell apart from PENDING.
      status: shownAs(o.status) as RechargeStatus,
      coins: o.coins,
      bonusCoins: o.bonusCoins,
      totalCoins: o.coins + o.bonusCoins,
      price: money(o.amountMinor, o.currency, o.locale),
      region: o.region,
      packageId: o.packageId,
      paymentMethodType: o.paymentMethodType as PaymentMethodType,
      failureCode: o.failureCode as RechargeFailureCode | null,
      nextAction: o.nextAction && o.status === "REQUIRES_ACTION" ? Object.assign(new RechargeNextAction(), { type: o.nextAction.type as RechargeNextActionType, redirectUrl: o.nextAction.redirectUrl }) : null,
      reversal:
        o.reversedAt !== null
          ? Object.assign(new RechargeReversal(), {
              coinsReversed: o.coinsReversed ?? 0,
              debtRecorded: o.debtRecorded ?? 0,
              reversedAt: new Date(o.reversedAt),
              reason: viewerIsAdmin ? o.reversalReason : null,
            })
          : null,
      refundedAmount: money(o.refundedMinor, o.currency, o.locale),
      createdAt: new Date(o.createdAt),
      completedAt: o.completedAt ? new Date(o.completedAt) : null,
      currency: o.currency,
      locale: o.locale,
    });
  }
}

@InputType({ description: "A tokenised payment method. The token comes from the provider's client SDK; card data never reaches this API." })
export class PaymentMethodInput {
  @Field(() => PaymentMethodType, { description: "Kind of payment method; must be offered in the region (rechargeOptions.paymentMethods)." })
  type: PaymentMethodType;

  @Field({ description: "The provider's payment-method token (sandbox: pm_card_ok, pm_card_3ds, pm_async_ok, ...). Never logged or stored." })
  token: string;
}

@InputType({ description: "Buy coins: a package or a custom amount, paid with a payment method. Retrying with the same idempotencyKey never charges twice." })
export class RechargeInput {
  @Field(() => ID, { nullable: true, description: "A package from coinPackages (give this or customCoins)." })
  packageId?: string | null;

  @Field(() => Int, { nullable: true, description: `A custom number of coins, ${MIN_CUSTOM_COINS}..${MAX_CUSTOM_COINS}, at the region's per-coin price (give this or packageId).` })
  customCoins?: number | null;

  @Field(() => String, { nullable: true, description: "The region whose prices the client showed; must match the account's region (defaults to it)." })
  region?: string | null;

  @Field(() => PaymentMethodInput, { description: "The tokenised payment method." })
  paymentMethod: PaymentMethodInput;

  @Field({ description: "Unique per purchase attempt (per user, 1..128 printable ASCII). Same key + same input → the same order; different input → IDEMPOTENCY_KEY_REUSED." })
  idempotencyKey: string;

  @Field(() => Int, { nullable: true, description: "With packageId: the price the viewer was shown (price.amountMinor). If the package costs something else now, nothing is charged: PRICE_CHANGED with currentOffer." })
  expectedAmountMinor?: number | null;

  @Field(() => Int, { nullable: true, description: "With packageId: the bonus coins the viewer was shown. If the promotion has ended (less bonus now), nothing is charged: PROMOTION_ENDED with currentOffer." })
  expectedBonusCoins?: number | null;
}

@ObjectType({ description: "Result of recharge / confirmRecharge / refundRecharge." })
export class RechargePayload {
  @Field(() => RechargeOrder, { nullable: true, description: "The order (also when the payment was declined: status FAILED). Null when the request was refused before an order existed." })
  order: RechargeOrder | null;

  @Field(() => Wallet, {
    nullable: true,
    description: "The order owner's wallet as it is now (coins credited once the order SUCCEEDED), so a normalized client cache updates the balance; null when no order exists.",
  })
  wallet: Wallet | null;

  @Field(() => [UserError], { description: "Business failures. PAYMENT_DECLINED / PAYMENT_FAILED accompany a FAILED order; other codes mean no order was created." })
  userErrors: UserError[];

  @Field(() => [CoinPackage], { nullable: true, description: "With PACKAGE_RETIRED: the region's packages on sale now; with PROMOTION_ENDED / PRICE_CHANGED: the package as offered now. Null otherwise." })
  currentOffer?: CoinPackage[] | null;
}
