import { Arg, Ctx, Directive, Field, ID, InputType, Int, Mutation, ObjectType, Resolver } from "type-graphql";
import { requireRole } from "../../../platform/auth.js";
import { UserError, withUserErrors } from "../../../platform/errors.js";
import type { GiftRecord } from "../domain/gifts.js";
import type { CatalogContext } from "./context.js";
import { Gift } from "./gift.js";
import { GiftPrice } from "./price.js";

@InputType({ description: "A new gift. Its price is recorded as the first price period." })
export class CreateGiftInput {
  @Field({ description: "Unique, URL-safe: lowercase letters, digits, dashes (e.g. `snow-globe`)." })
  slug: string;

  @Field({ description: "Display name (1-100 characters)." })
  name: string;

  @Field({ nullable: true, description: "Short description (up to 500 characters)." })
  description?: string;

  @Field(() => Int, { description: "Price of one gift in coins, 1 to 1,000,000." })
  coinCost: number;

  @Field({ description: "A category key from `giftCategories`." })
  category: string;

  @Field({ description: "Image path on the CDN (`snow-globe.png`) or a URL under the CDN base." })
  imageUrl: string;

  @Field(() => String, { nullable: true, description: "Animation path on the CDN or a URL under the CDN base." })
  animationUrl?: string | null;

  @Field({ nullable: true, defaultValue: false, description: "May be sent as a combo." })
  streakable?: boolean;

  @Field(() => Date, { nullable: true, description: "Window start (inclusive); null: no start limit." })
  availableFrom?: Date | null;

  @Field(() => Date, { nullable: true, description: "Window end (exclusive), after availableFrom; null: no end." })
  availableUntil?: Date | null;

  @Field(() => [String], { nullable: true, description: "Known ISO 3166 alpha-2 regions; null: everywhere." })
  regions?: string[] | null;

  @Field(() => Int, { nullable: true, description: "Display order; default: after every other gift." })
  sortOrder?: number | null;
}

@InputType({ description: "Changes to a gift: omitted fields are kept; null clears a nullable field." })
export class UpdateGiftInput {
  @Field(() => ID, { description: "The gift to change." })
  id: string;

  @Field({ nullable: true, description: "New unique slug." })
  slug?: string;

  @Field({ nullable: true, description: "New display name." })
  name?: string;

  @Field({ nullable: true, description: "New description." })
  description?: string;

  @Field(() => Int, { nullable: true, description: "New price in coins, in force immediately (recorded in the price history). To change it later use scheduleGiftPrice." })
  coinCost?: number;

  @Field(() => String, { nullable: true, description: "Note recorded with an immediate price change." })
  priceNote?: string | null;

  @Field({ nullable: true, description: "New category key." })
  category?: string;

  @Field({ nullable: true, description: "New image path or CDN URL." })
  imageUrl?: string;

  @Field(() => String, { nullable: true, description: "New animation path or CDN URL; null removes the animation." })
  animationUrl?: string | null;

  @Field({ nullable: true, description: "May be sent as a combo." })
  streakable?: boolean;

  @Field(() => Date, { nullable: true, description: "Window start (inclusive); null removes the limit." })
  availableFrom?: Date | null;

  @Field(() => Date, { nullable: true, description: "Window end (exclusive); null removes the limit." })
  availableUntil?: Date | null;

  @Field(() => [String], { nullable: true, description: "Known regions; null: everywhere." })
  regions?: string[] | null;

  @Field(() => Int, { nullable: true, description: "Display order." })
  sortOrder?: number | null;
}

@InputType({ description: "A price change that takes effect at a given future instant." })
export class ScheduleGiftPriceInput {
  @Field(() => ID, { description: "The gift." })
  giftId: string;

  @Field(() => Int, { description: "New price of one gift in coins, 1 to 1,000,000." })
  coinCost: number;

  @Field(() => Date, { description: "When the price takes effect (must be in the future)." })
  effectiveAt: Date;

  @Field(() => String, { nullable: true, description: "Why (shown in the price history)." })
  note?: string | null;
}

@ObjectType({ description: "Result of createGift." })
export class CreateGiftPayload {
  @Field(() => Gift, { nullable: true, description: "The new gift; null when userErrors is not empty." })
  gift: Gift | null;

  @Field(() => [UserError], { description: "Why nothing was created, when something was wrong." })
  userErrors: UserError[];
}

@ObjectType({ description: "Result of updateGift." })
export class UpdateGiftPayload {
  @Field(() => Gift, { nullable: true, description: "The gift after the change; null when userErrors is not empty." })
  gift: Gift | null;

  @Field(() => [UserError], { description: "Why nothing changed, when something was wrong." })
  userErrors: UserError[];
}

@ObjectType({ description: "Result of scheduleGiftPrice." })
export class ScheduleGiftPricePayload {
  @Field(() => Gift, { nullable: true, description: "The gift (its `coinCost` is still the current price)." })
  gift: Gift | null;

  @Field(() => GiftPrice, { nullable: true, description: "The scheduled price period." })
  scheduledPrice: GiftPrice | null;

  @Field(() => [UserError], { description: "Why nothing was scheduled, when something was wrong." })
  userErrors: UserError[];
}

@ObjectType({ description: "Result of cancelScheduledGiftPrice." })
export class CancelScheduledGiftPricePayload {
  @Field(() => Gift, { nullable: true, description: "The gift after the cancellation." })
  gift: Gift | null;

  @Field(() => [UserError], { description: "Why nothing was cancelled, when something was wrong." })
  userErrors: UserError[];
}

@ObjectType({ description: "Result of retireGift." })
export class RetireGiftPayload {
  @Field(() => Gift, { nullable: true, description: "The retired gift." })
  gift: Gift | null;

  @Field(() => [UserError], { description: "Why nothing changed, when something was wrong." })
  userErrors: UserError[];
}

const view = (ctx: CatalogContext, r: GiftRecord) => Gift.from(r, ctx.services.cdnBaseUrl);

@Resolver()
export class CatalogAdminResolver {
  @Directive('@tag(name: "internal")')
  @Mutation(() => CreateGiftPayload, { description: "Creates a gift (admins only)." })
  async createGift(@Ctx() ctx: CatalogContext, @Arg("input", () => CreateGiftInput, { description: "What to do; each field is described on the input type." }) input: CreateGiftInput): Promise<CreateGiftPayload> {
    const admin = requireRole(ctx.user, "admin");
    const res = await withUserErrors(async () => ({
      gift: view(
        ctx,
        await ctx.services.admin.createGift(
          {
            slug: input.slug,
            name: input.name,
            description: input.description ?? "",
            coinCost: input.coinCost,
            category: input.category,
            imageUrl: input.imageUrl,
            animationUrl: input.animationUrl ?? null,
            streakable: input.streakable ?? false,
            availableFrom: input.availableFrom ?? null,
            availableUntil: input.availableUntil ?? null,
            regions: input.regions ?? null,
            sortOrder: input.sortOrder ?? null,
          },
          admin.id,
        ),
      ),
    }));
    return { gift: null, ...res };
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => UpdateGiftPayload, { description: "Changes a gift (admins only). A new coinCost takes effect immediately and is recorded in the price history." })
  async updateGift(@Ctx() ctx: CatalogContext, @Arg("input", () => UpdateGiftInput, { description: "What to do; each field is described on the input type." }) input: UpdateGiftInput): Promise<UpdateGiftPayload> {
    const admin = requireRole(ctx.user, "admin");
    const { id, ...patch } = input;
    // Only keys the client sent: undefined keeps, null clears.
    const sent = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    const res = await withUserErrors(async () => ({ gift: view(ctx, await ctx.services.admin.updateGift(id, sent, admin.id)) }));
    return { gift: null, ...res };
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => ScheduleGiftPricePayload, { description: "Schedules a price change at a future instant (admins only). It takes effect at that instant with no further action." })
  async scheduleGiftPrice(@Ctx() ctx: CatalogContext, @Arg("input", () => ScheduleGiftPriceInput, { description: "What to do; each field is described on the input type." }) input: ScheduleGiftPriceInput): Promise<ScheduleGiftPricePayload> {
    const admin = requireRole(ctx.user, "admin");
    const res = await withUserErrors(async () => {
      const { gift, periodId } = await ctx.services.admin.schedulePrice(input, admin.id);
      const period = (await ctx.services.prices.historyFor([gift.id]))[0].find((p) => p.id === periodId) ?? null;
      return { gift: view(ctx, gift), scheduledPrice: period ? GiftPrice.from(period, { admin: true, now: gift.now }) : null };
    });
    return { gift: null, scheduledPrice: null, ...res };
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => CancelScheduledGiftPricePayload, { description: "Cancels a scheduled price change that has not taken effect yet (admins only)." })
  async cancelScheduledGiftPrice(@Ctx() ctx: CatalogContext, @Arg("id", () => ID, { description: "The scheduled GiftPrice id." }) id: string): Promise<CancelScheduledGiftPricePayload> {
    requireRole(ctx.user, "admin");
    const res = await withUserErrors(async () => ({ gift: view(ctx, await ctx.services.admin.cancelScheduledPrice(id)) }));
    return { gift: null, ...res };
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => RetireGiftPayload, { description: "Retires a gift (admins only): no longer listed or sendable, still resolvable for history. Retiring twice is a no-op." })
  async retireGift(@Ctx() ctx: CatalogContext, @Arg("id", () => ID, { description: "The gift." }) id: string): Promise<RetireGiftPayload> {
    requireRole(ctx.user, "admin");
    const res = await withUserErrors(async () => ({ gift: view(ctx, await ctx.services.admin.retireGift(id)) }));
    return { gift: null, ...res };
  }
}
