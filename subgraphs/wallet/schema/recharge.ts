import { Arg, Ctx, Directive, FieldResolver, ID, Int, Mutation, Query, Resolver, Root } from "type-graphql";
import { requireRole, requireSelfOrAdmin, requireUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, UserError, badInput, withUserErrors } from "../../../platform/errors.js";
import { Money, money } from "../../../platform/money.js";
import { isUuid, type CoinPackageView, type OrderView } from "../domain/recharge.js";
import { OfferError } from "../domain/coin-package-reads.js";
import { MAX_CUSTOM_COINS, MIN_CUSTOM_COINS, normalizeRegion } from "../domain/regions.js";
import type { WalletContext } from "./context.js";
import { CoinPackage, PaymentMethodType, RechargeInput, RechargeOptions, RechargeOrder, RechargePayload } from "./recharge-types.js";
import { walletView } from "./user.js";

// The types are imported from here (transactions.ts, recharge-orders.ts, refunds.ts, coin-packages.ts), not from recharge-types.ts:
// type-graphql prints fields in the order they are registered, so these resolvers must load before
// transactions.ts's for the composed SDL (schema/) to stay as committed.
export { CoinPackage, RechargeOrder, RechargeStatus } from "./recharge-types.js";

/** The wallet the order changed (read now, after the order's transaction committed). */
async function withWallet(payload: RechargePayload, ctx: WalletContext): Promise<RechargePayload> {
  const owner = payload.order?.userId;
  payload.wallet = owner ? walletView((await ctx.services.accounts.balances([owner]))[0]) : null;
  return payload;
}

/** A FAILED order comes back with its order and a userError, so clients can rely on userErrors alone. */
function payloadFor(order: OrderView, isAdmin: boolean): RechargePayload {
  const userErrors: UserError[] = [];
  if (order.status === "FAILED") {
    const declined = ["INSUFFICIENT_FUNDS", "EXPIRED_CARD", "CARD_DECLINED"].includes(order.failureCode ?? "");
    userErrors.push(
      new DomainError(declined ? ErrorCode.PAYMENT_DECLINED : ErrorCode.PAYMENT_FAILED, declined ? `the payment was declined (${order.failureCode})` : `the payment failed (${order.failureCode})`, {
        field: ["input", "paymentMethod"],
      }).toUserError(),
    );
  }
  return Object.assign(new RechargePayload(), { order: RechargeOrder.from(order, isAdmin), userErrors });
}

const isAdmin = (ctx: WalletContext) => ctx.user?.roles.includes("admin") ?? false;

function regionArg(region: string | null | undefined): string | null {
  if (region === undefined || region === null) return null;
  const r = normalizeRegion(region);
  if (!r) throw badInput("region must be an ISO 3166 alpha-2 code such as US or JP", ["region"]);
  return r;
}

@Resolver(() => RechargeOptions)
export class RechargeOptionsResolver {
  @FieldResolver(() => Money, { description: "The price of a custom amount (half-up to the currency's minor unit), for showing before buying." })
  customPrice(@Root() o: RechargeOptions, @Arg("coins", () => Int, { description: "Number of coins to price." }) coins: number): Money {
    if (!Number.isInteger(coins) || coins < MIN_CUSTOM_COINS || coins > MAX_CUSTOM_COINS) throw badInput(`coins must be between ${MIN_CUSTOM_COINS} and ${MAX_CUSTOM_COINS}`, ["coins"]);
    return money(o.price(coins), o.info.currency, o.info.locale);
  }
}

@Resolver()
export class RechargeResolver {
  @Directive('@tag(name: "partner")')
  @Query(() => [CoinPackage], {
    description: "Coin packages for sale in a region, smallest first, with any active promotion. Public. Region defaults to the caller's token region, then US; an unsupported region gets US packages (see each package's region).",
  })
  async coinPackages(@Arg("region", () => String, { nullable: true, description: "ISO 3166 alpha-2 region, e.g. US, GB, DE, JP, IN." }) region: string | null, @Ctx() ctx: WalletContext): Promise<CoinPackage[]> {
    const r = await ctx.services.recharge.resolveRegion(regionArg(region) ?? ctx.user?.region ?? null);
    return (await ctx.services.recharge.packages(r)).map(CoinPackage.from);
  }

  @Query(() => RechargeOptions, { description: "Currency, payment methods and custom-amount bounds for a region (default: the caller's region, then US). Public." })
  async rechargeOptions(@Arg("region", () => String, { nullable: true, description: "ISO 3166 alpha-2 region, e.g. US, GB, DE, JP, IN." }) region: string | null, @Ctx() ctx: WalletContext): Promise<RechargeOptions> {
    const info = await ctx.services.recharge.resolveRegion(regionArg(region) ?? ctx.user?.region ?? null);
    return Object.assign(new RechargeOptions(), {
      region: info.region,
      currency: info.currency,
      paymentMethods: info.paymentMethods as PaymentMethodType[],
      minCustomCoins: MIN_CUSTOM_COINS,
      maxCustomCoins: MAX_CUSTOM_COINS,
      info,
      price: (coins: number) => ctx.services.recharge.customPrice(info, coins),
    });
  }

  @Query(() => RechargeOrder, { nullable: true, description: "One of the caller's recharge orders (admins: anyone's). Null when it does not exist." })
  async rechargeOrder(@Arg("id", () => ID, { description: "The order id returned by recharge." }) id: string, @Ctx() ctx: WalletContext): Promise<RechargeOrder | null> {
    requireUser(ctx.user);
    if (!isUuid(id)) throw badInput("id is not a recharge order id", ["id"]);
    const order = await ctx.services.recharge.order(id);
    if (!order) return null;
    requireSelfOrAdmin(ctx.user, order.userId);
    return RechargeOrder.from(order, isAdmin(ctx));
  }

  @Mutation(() => RechargePayload, {
    description:
      "Buys coins. Returns the order: SUCCEEDED (coins credited), REQUIRES_ACTION (do nextAction, then confirmRecharge), PENDING (settles later; poll rechargeOrder) or FAILED. Adults only. Idempotent per idempotencyKey, also while the first call is still in flight.",
  })
  async recharge(@Arg("input", () => RechargeInput, { description: "What to do; each field is described on the input type." }) input: RechargeInput, @Ctx() ctx: WalletContext): Promise<RechargePayload> {
    const user = requireUser(ctx.user);
    await ctx.services.profiles.touch(user);
    let order: OrderView | undefined;
    let offer: CoinPackageView[] | null = null;
    const result = await withUserErrors(async () => {
      try {
        order = await ctx.services.recharge.recharge(user, input);
      } catch (e) {
        if (e instanceof OfferError) offer = e.currentOffer;
        throw e;
      }
      return {};
    });
    if (!order) return Object.assign(new RechargePayload(), { order: null, wallet: null, userErrors: result.userErrors, currentOffer: offer && (offer as CoinPackageView[]).map(CoinPackage.from) });
    return withWallet(payloadFor(order, isAdmin(ctx)), ctx);
  }

  @Mutation(() => RechargePayload, {
    description: "Completes a REQUIRES_ACTION order after the viewer finished 3-D Secure. Safe to repeat: an order already decided is returned as it is.",
  })
  async confirmRecharge(@Arg("orderId", () => ID, { description: "The recharge order id." }) orderId: string, @Ctx() ctx: WalletContext): Promise<RechargePayload> {
    const user = requireUser(ctx.user);
    if (!isUuid(orderId)) throw badInput("orderId is not a recharge order id", ["orderId"]);
    let order: OrderView | undefined;
    const result = await withUserErrors(async () => {
      order = await ctx.services.recharge.confirm(user, orderId);
      return {};
    });
    if (!order) return Object.assign(new RechargePayload(), { order: null, wallet: null, userErrors: result.userErrors });
    return withWallet(payloadFor(order, isAdmin(ctx)), ctx);
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => RechargePayload, {
    description:
      "Operations (admin): refunds a SUCCEEDED order, in full or in part (amountMinor), at the provider first; then takes back coins (bonus included) in proportion to the money, rounded down to whole coins on running totals so the refund that completes the order takes exactly the rest; the spent part becomes debt. Idempotent per idempotencyKey or, without one, per (amountMinor, reason). Refunding the rest of a REFUNDED order changes nothing.",
  })
  async refundRecharge(
    @Arg("orderId", () => ID, { description: "The recharge order id." }) orderId: string,
    @Arg("reason", { description: "Why (kept for audit, 1..500 characters)." }) reason: string,
    @Arg("amountMinor", () => Int, { nullable: true, description: "How much to refund, in minor units of the order's currency (JPY: yen); omitted: everything not yet refunded. More than is left is REFUND_EXCEEDS_ORDER." }) amountMinor: number | null,
    @Arg("idempotencyKey", () => String, { nullable: true, description: "Makes this refund distinct (1..128 printable ASCII); omitted: the same amount and reason are the same refund." }) idempotencyKey: string | null,
    @Ctx() ctx: WalletContext,
  ): Promise<RechargePayload> {
    const admin = requireRole(ctx.user, "admin");
    if (!isUuid(orderId)) throw badInput("orderId is not a recharge order id", ["orderId"]);
    let order: OrderView | undefined;
    const result = await withUserErrors(async () => {
      order = await ctx.services.recharge.refund(orderId, reason, admin.id, { amountMinor, idempotencyKey });
      return {};
    });
    if (!order) return Object.assign(new RechargePayload(), { order: null, wallet: null, userErrors: result.userErrors });
    return withWallet(Object.assign(new RechargePayload(), { order: RechargeOrder.from(order, true), userErrors: [] }), ctx);
  }
}
