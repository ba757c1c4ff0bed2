import { Arg, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, registerEnumType } from "type-graphql";
import { requireRole } from "../../../platform/auth.js";
import { UserError, badInput, withUserErrors } from "../../../platform/errors.js";
import { Money, money } from "../../../platform/money.js";
import type { AuditRecord, PackageRecord, PricePeriod, PromotionRecord } from "../domain/coin-package-reads.js";
import { normalizeRegion } from "../domain/regions.js";
import { CoinPackage } from "./recharge.js";
import type { WalletContext } from "./context.js";

export enum CoinPackagePriceReason {
  INITIAL = "INITIAL",
  REPRICE = "REPRICE",
  SCHEDULED = "SCHEDULED",
}
registerEnumType(CoinPackagePriceReason, {
  name: "CoinPackagePriceReason",
  description: "Why a coin package price period exists: the package's first price, an immediate change, or a change scheduled ahead.",
});

@ObjectType({ description: "One period of a coin package's price: in force from validFrom until validUntil (the next period's start)." })
export class CoinPackagePrice {
  @Field(() => Money, { description: "The price in force during the period." })
  price: Money;

  @Field(() => Date, { description: "When the period starts (inclusive)." })
  validFrom: Date;

  @Field(() => Date, { nullable: true, description: "When the next period starts (exclusive); null = until further notice." })
  validUntil: Date | null;

  @Field(() => CoinPackagePriceReason, { description: "How the period came to be." })
  reason: CoinPackagePriceReason;

  @Field({ description: "The admin's reason for the change (empty for seeded prices)." })
  note: string;

  @Field(() => String, { nullable: true, description: "The admin who made the change; null for seeded prices." })
  changedBy: string | null;

  static from(p: PricePeriod): CoinPackagePrice {
    return Object.assign(new CoinPackagePrice(), {
      price: money(p.priceMinor, p.currency, p.locale),
      validFrom: new Date(p.validFrom),
      validUntil: p.validUntil ? new Date(p.validUntil) : null,
      reason: p.reason as CoinPackagePriceReason,
      note: p.note,
      changedBy: p.changedBy,
    });
  }
}

@ObjectType({ description: "A promotion campaign: bonus coins on the packages of one size in some regions, for a time window [startsAt, endsAt)." })
export class CoinPromotionSchedule {
  @Field(() => ID, { description: "Campaign id; pass it to endCoinPromotion." })
  id: string;

  @Field(() => Int, { description: "Size of the packages it applies to, in coins." })
  coins: number;

  @Field(() => Int, { description: "Bonus coins granted with each of those packages while it runs." })
  bonusCoins: number;

  @Field(() => [String], { description: "Regions whose packages carry it." })
  regions: string[];

  @Field(() => [ID], { description: "The packages that carry it." })
  packageIds: string[];

  @Field(() => Date, { description: "When it starts (inclusive)." })
  startsAt: Date;

  @Field(() => Date, { description: "When it ends (exclusive); set to the moment it was ended early." })
  endsAt: Date;

  @Field(() => Date, { nullable: true, description: "When an admin ended it early (or cancelled it before it started); null otherwise." })
  endedAt: Date | null;

  @Field({ description: "Why it was scheduled." })
  reason: string;

  @Field(() => String, { nullable: true, description: "The admin who scheduled it; null for seeded promotions." })
  createdBy: string | null;

  static from(p: PromotionRecord): CoinPromotionSchedule {
    return Object.assign(new CoinPromotionSchedule(), {
      ...p,
      startsAt: new Date(p.startsAt),
      endsAt: new Date(p.endsAt),
      endedAt: p.endedAt ? new Date(p.endedAt) : null,
    });
  }
}

@ObjectType({ description: "One audited admin change to coin packages or promotions: who, when, what and why." })
export class CoinPackageChange {
  @Field(() => ID, { description: "Audit row id; grows over time." })
  id: string;

  @Field(() => Date, { description: "When the change was committed." })
  at: Date;

  @Field({ description: "The admin's user id." })
  actor: string;

  @Field({ description: "CREATE, REPRICE, SCHEDULE_PRICE, RETIRE, SCHEDULE_PROMOTION or END_PROMOTION." })
  action: string;

  @Field(() => ID, { nullable: true, description: "The package changed; null for promotion changes." })
  packageId: string | null;

  @Field(() => ID, { nullable: true, description: "The promotion campaign changed; null for package changes." })
  promotionId: string | null;

  @Field({ description: "Why (the admin's reason)." })
  reason: string;

  @Field({ description: "What changed, as JSON (amounts in minor units with their currency)." })
  detail: string;

  static from(a: AuditRecord): CoinPackageChange {
    return Object.assign(new CoinPackageChange(), { ...a, at: new Date(a.at), detail: JSON.stringify(a.detail) });
  }
}

@InputType({ description: "A new coin package. Prices are integer minor units of the region's currency (JPY has none: whole yen)." })
export class CreateCoinPackageInput {
  @Field(() => ID, { nullable: true, description: "Package id (1..64 of A-Z a-z 0-9 _ -); default pkg_<region>_<coins>." })
  id?: string | null;

  @Field({ description: "ISO 3166 alpha-2 region it is sold in (one of the regions where coins are sold)." })
  region: string;

  @Field(() => Int, { description: "Coins bought, 1..2,500,000." })
  coins: number;

  @Field(() => Int, { description: "Price in minor units of currency; within ×4 of the region's per-coin reference price." })
  amountMinor: number;

  @Field({ description: "ISO 4217 currency; must be the region's currency." })
  currency: string;

  @Field(() => Int, { nullable: true, description: "Position in the list (ascending); default: the number of coins." })
  sortOrder?: number | null;

  @Field(() => String, { nullable: true, description: "Why (kept in the audit trail, 1..500 characters); default \"new package\"." })
  reason?: string | null;
}

@InputType({ description: "A new price for a coin package, at once or from a future instant. Orders already placed keep the price they were quoted." })
export class RepriceCoinPackageInput {
  @Field(() => ID, { description: "The package." })
  packageId: string;

  @Field(() => Int, { description: "New price in minor units of the package's currency." })
  amountMinor: number;

  @Field({ description: "ISO 4217 currency; must be the package's currency." })
  currency: string;

  @Field(() => Date, { nullable: true, description: "A future instant from which the price applies; omitted: at once." })
  effectiveAt?: Date | null;

  @Field({ description: "Why (kept in the audit trail, 1..500 characters)." })
  reason: string;
}

@InputType({ description: "Takes a coin package off sale for good." })
export class RetireCoinPackageInput {
  @Field(() => ID, { description: "The package." })
  packageId: string;

  @Field({ description: "Why (kept in the audit trail, 1..500 characters)." })
  reason: string;
}

@InputType({ description: "Bonus coins on the packages of one size, in some regions, for a time window." })
export class ScheduleCoinPromotionInput {
  @Field(() => Int, { description: "Size of the packages (coins), e.g. 1400." })
  coins: number;

  @Field(() => [String], { nullable: true, description: "ISO 3166 alpha-2 regions (1..50); null = every region selling that size." })
  regions?: string[] | null;

  @Field(() => Int, { description: "Bonus coins per package, 1..coins." })
  bonusCoins: number;

  @Field(() => Date, { nullable: true, description: "Start (inclusive); omitted: now." })
  startsAt?: Date | null;

  @Field(() => Date, { description: "End (exclusive); in the future, at most 366 days after the start." })
  endsAt: Date;

  @Field({ description: "Why (kept in the audit trail, 1..500 characters)." })
  reason: string;
}

@InputType({ description: "Ends a promotion now (cancels it if it has not started). Orders placed while it ran keep their bonus." })
export class EndCoinPromotionInput {
  @Field(() => ID, { description: "The campaign id (CoinPromotionSchedule.id)." })
  id: string;

  @Field({ description: "Why (kept in the audit trail, 1..500 characters)." })
  reason: string;
}

@ObjectType({ description: "Result of createCoinPackage / retireCoinPackage." })
export class CoinPackagePayload {
  @Field(() => CoinPackage, { nullable: true, description: "The package after the change; null when userErrors is not empty." })
  coinPackage: CoinPackage | null;

  @Field(() => [UserError], { description: "Why nothing changed (every validation problem at once)." })
  userErrors: UserError[];
}

@ObjectType({ description: "Result of repriceCoinPackage." })
export class RepriceCoinPackagePayload {
  @Field(() => CoinPackage, { nullable: true, description: "The package as sold now (a scheduled price shows in priceHistory(includeScheduled: true))." })
  coinPackage: CoinPackage | null;

  @Field(() => CoinPackagePrice, { nullable: true, description: "The price period the change created (or the existing one, when nothing changed)." })
  price: CoinPackagePrice | null;

  @Field(() => [UserError], { description: "Why nothing changed (every validation problem at once)." })
  userErrors: UserError[];
}

@ObjectType({ description: "Result of scheduleCoinPromotion / endCoinPromotion." })
export class CoinPromotionPayload {
  @Field(() => CoinPromotionSchedule, { nullable: true, description: "The promotion after the change; null when userErrors is not empty." })
  promotion: CoinPromotionSchedule | null;

  @Field(() => [UserError], { description: "Why nothing changed (every validation problem at once)." })
  userErrors: UserError[];
}

const view = (p: PackageRecord) => CoinPackage.fromRecord(p);
const isAdmin = (ctx: WalletContext) => ctx.user?.roles.includes("admin") ?? false;

function boundedFirst(first: number): number {
  if (!Number.isInteger(first) || first < 1 || first > 100) throw badInput("first must be between 1 and 100", ["first"]);
  return first;
}

function regionArg(region: string | null | undefined): string | null {
  if (region === undefined || region === null) return null;
  const r = normalizeRegion(region);
  if (!r) throw badInput("region must be an ISO 3166 alpha-2 code such as US or JP", ["region"]);
  return r;
}

@Resolver(() => CoinPackage)
export class CoinPackageFieldResolver {
  @Directive('@tag(name: "internal")')
  @FieldResolver(() => CoinPackagePrice, { nullable: true, description: "The price in force at an instant (null before the package existed). Future instants: admins only (FORBIDDEN otherwise)." })
  async priceAt(@Root() p: CoinPackage, @Arg("at", () => Date, { description: "The instant (ISO 8601)." }) at: Date, @Ctx() ctx: WalletContext): Promise<CoinPackagePrice | null> {
    if (at.getTime() > Date.now()) requireRole(ctx.user, "admin");
    const period = await ctx.services.coinPackages.priceAt(p.id, at);
    if (period && !isAdmin(ctx) && period.validUntil && new Date(period.validUntil).getTime() > Date.now()) period.validUntil = null;
    return period ? CoinPackagePrice.from(period) : null;
  }

  @Directive('@tag(name: "internal")')
  @FieldResolver(() => [CoinPackagePrice], { description: "Every price period that has started, oldest first and contiguous; includeScheduled (admins only) adds the future ones." })
  async priceHistory(
    @Root() p: CoinPackage,
    @Arg("includeScheduled", () => Boolean, { defaultValue: false, description: "Also list scheduled changes (admins only)." }) includeScheduled: boolean,
    @Ctx() ctx: WalletContext,
  ): Promise<CoinPackagePrice[]> {
    if (includeScheduled) requireRole(ctx.user, "admin");
    return (await ctx.services.coinPackages.priceHistory(p.id, includeScheduled)).map(CoinPackagePrice.from);
  }
}

@Resolver()
export class CoinPackageAdminResolver {
  @Directive('@tag(name: "internal")')
  @Query(() => [CoinPackage], { description: "Operations (admin): a region's coin packages, retired ones too when asked (see retiredAt)." })
  async adminCoinPackages(
    @Arg("region", { description: "ISO 3166 alpha-2 region." }) region: string,
    @Arg("includeRetired", () => Boolean, { defaultValue: false, description: "Also list retired packages." }) includeRetired: boolean,
    @Ctx() ctx: WalletContext,
  ): Promise<CoinPackage[]> {
    requireRole(ctx.user, "admin");
    return (await ctx.services.coinPackages.list(regionArg(region)!, includeRetired)).map(view);
  }

  @Directive('@tag(name: "internal")')
  @Query(() => [CoinPromotionSchedule], { description: "Operations (admin): promotion campaigns, newest first; running and scheduled ones, ended ones when asked." })
  async coinPromotionSchedules(
    @Arg("region", () => String, { nullable: true, description: "Only campaigns touching this region." }) region: string | null,
    @Arg("includeEnded", () => Boolean, { defaultValue: false, description: "Also list ended campaigns." }) includeEnded: boolean,
    @Arg("first", () => Int, { defaultValue: 50, description: "At most this many, 1..100." }) first: number,
    @Ctx() ctx: WalletContext,
  ): Promise<CoinPromotionSchedule[]> {
    requireRole(ctx.user, "admin");
    return (await ctx.services.coinPackages.promotions(regionArg(region), includeEnded, boundedFirst(first))).map(CoinPromotionSchedule.from);
  }

  @Directive('@tag(name: "internal")')
  @Query(() => [CoinPackageChange], { description: "Operations (admin): the audit trail of coin package and promotion changes, newest first." })
  async coinPackageChanges(
    @Arg("packageId", () => ID, { nullable: true, description: "Only changes to this package (and promotions on it)." }) packageId: string | null,
    @Arg("first", () => Int, { defaultValue: 50, description: "At most this many, 1..100." }) first: number,
    @Ctx() ctx: WalletContext,
  ): Promise<CoinPackageChange[]> {
    requireRole(ctx.user, "admin");
    return (await ctx.services.coinPackages.auditTrail(packageId, boundedFirst(first))).map(CoinPackageChange.from);
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => CoinPackagePayload, { description: "Operations (admin): puts a new coin package on sale. Audited." })
  async createCoinPackage(@Arg("input", () => CreateCoinPackageInput, { description: "See CreateCoinPackageInput." }) input: CreateCoinPackageInput, @Ctx() ctx: WalletContext): Promise<CoinPackagePayload> {
    const admin = requireRole(ctx.user, "admin");
    const r = await withUserErrors(async () => ({ coinPackage: view(await ctx.services.coinPackages.create(admin.id, { ...input, reason: input.reason ?? "new package" })) }));
    return Object.assign(new CoinPackagePayload(), { coinPackage: null, ...r });
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => RepriceCoinPackagePayload, { description: "Operations (admin): changes a package's price at once or from a future instant; the price history keeps every period. Audited." })
  async repriceCoinPackage(@Arg("input", () => RepriceCoinPackageInput, { description: "See RepriceCoinPackageInput." }) input: RepriceCoinPackageInput, @Ctx() ctx: WalletContext): Promise<RepriceCoinPackagePayload> {
    const admin = requireRole(ctx.user, "admin");
    const r = await withUserErrors(async () => {
      const { pkg, period } = await ctx.services.coinPackages.reprice(admin.id, input);
      return { coinPackage: view(pkg), price: CoinPackagePrice.from(period) };
    });
    return Object.assign(new RepriceCoinPackagePayload(), { coinPackage: null, price: null, ...r });
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => CoinPackagePayload, { description: "Operations (admin): takes a package off sale (recharge answers PACKAGE_RETIRED with the current offer). Repeating it changes nothing. Audited." })
  async retireCoinPackage(@Arg("input", () => RetireCoinPackageInput, { description: "See RetireCoinPackageInput." }) input: RetireCoinPackageInput, @Ctx() ctx: WalletContext): Promise<CoinPackagePayload> {
    const admin = requireRole(ctx.user, "admin");
    const r = await withUserErrors(async () => ({ coinPackage: view(await ctx.services.coinPackages.retire(admin.id, input.packageId, input.reason)) }));
    return Object.assign(new CoinPackagePayload(), { coinPackage: null, ...r });
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => CoinPromotionPayload, { description: "Operations (admin): schedules bonus coins on the packages of one size in some regions for a time window. Audited." })
  async scheduleCoinPromotion(@Arg("input", () => ScheduleCoinPromotionInput, { description: "See ScheduleCoinPromotionInput." }) input: ScheduleCoinPromotionInput, @Ctx() ctx: WalletContext): Promise<CoinPromotionPayload> {
    const admin = requireRole(ctx.user, "admin");
    const r = await withUserErrors(async () => ({ promotion: CoinPromotionSchedule.from(await ctx.services.coinPackages.schedulePromotion(admin.id, input)) }));
    return Object.assign(new CoinPromotionPayload(), { promotion: null, ...r });
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => CoinPromotionPayload, { description: "Operations (admin): ends a promotion now (cancels it before it starts). Repeating it changes nothing. Audited." })
  async endCoinPromotion(@Arg("input", () => EndCoinPromotionInput, { description: "See EndCoinPromotionInput." }) input: EndCoinPromotionInput, @Ctx() ctx: WalletContext): Promise<CoinPromotionPayload> {
    const admin = requireRole(ctx.user, "admin");
    const r = await withUserErrors(async () => ({ promotion: CoinPromotionSchedule.from(await ctx.services.coinPackages.endPromotion(admin.id, input.id, input.reason)) }));
    return Object.assign(new CoinPromotionPayload(), { promotion: null, ...r });
  }
}
