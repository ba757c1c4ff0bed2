import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, ID, Int, ObjectType, Query, Resolver, registerEnumType } from "type-graphql";
import { badInput } from "../../../platform/errors.js";
import { isUuid, type GiftRecord } from "../domain/gifts.js";
import type { CatalogContext } from "./context.js";

export enum GiftStatus {
  ACTIVE = "ACTIVE",
  RETIRED = "RETIRED",
}
registerEnumType(GiftStatus, {
  name: "GiftStatus",
  description: "ACTIVE gifts can be listed and sent (within their window and regions); RETIRED ones only still resolve for history.",
});

@Directive('@tag(name: "partner")')
@Directive('@key(fields: "id")')
@ObjectType({ description: "Something a viewer can send to a host, priced in coins." })
export class Gift {
  @Field(() => ID, { description: "Stable gift id (uuid)." })
  id: string;

  @Field({ description: "Stable, URL-safe identifier (e.g. `rose`)." })
  slug: string;

  @Field({ description: "Display name." })
  name: string;

  @Field({ description: "Short description for the gift picker." })
  description: string;

  @Field(() => Int, { description: "Price of one gift in coins, in force now (scheduled changes apply at their time)." })
  coinCost: number;

  @Field({ description: "Category key, e.g. BASIC, PREMIUM, SPECIAL, EVENT (see `giftCategories`)." })
  category: string;

  @Field({ description: "Static image on the CDN." })
  imageUrl: string;

  @Field(() => String, { nullable: true, description: "Full-screen animation on the CDN, when the gift has one." })
  animationUrl: string | null;

  @Field({ description: "Cheap gifts can be sent as combos (streaks)." })
  streakable: boolean;

  @Field(() => Date, { nullable: true, description: "Limited-time gifts: start of the sending window (inclusive). Null: no start limit." })
  availableFrom: Date | null;

  @Field(() => Date, { nullable: true, description: "Limited-time gifts: end of the sending window (exclusive). Null: no end." })
  availableUntil: Date | null;

  @Field(() => [String], { nullable: true, description: "ISO 3166 alpha-2 regions where the gift is sold; null means everywhere." })
  regions: string[] | null;

  @Field(() => GiftStatus, { description: "ACTIVE or RETIRED." })
  status: GiftStatus;

  @Field(() => Int, { description: "Display order in the picker, ascending." })
  sortOrder: number;

  /** The record this view was built from (price periods, `now`), for field resolvers. */
  record: GiftRecord;

  static from(r: GiftRecord, cdnBaseUrl: string): Gift {
    return Object.assign(new Gift(), {
      id: r.id,
      slug: r.slug,
      name: r.name,
      description: r.description,
      coinCost: r.coinCost,
      category: r.category,
      imageUrl: assetUrl(cdnBaseUrl, r.imagePath),
      animationUrl: r.animationPath ? assetUrl(cdnBaseUrl, r.animationPath) : null,
      streakable: r.streakable,
      availableFrom: r.availableFrom,
      availableUntil: r.availableUntil,
      regions: r.regions,
      status: r.status as GiftStatus,
      sortOrder: r.sortOrder,
      record: r,
    });
  }
}

/** Assets are stored as paths relative to the CDN base, so moving the CDN is a config change. */
export function assetUrl(cdnBaseUrl: string, path: string): string {
  return `${cdnBaseUrl}/${path.split("/").map(encodeURIComponent).join("/")}`;
}

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A gift category (BASIC, PREMIUM, SPECIAL, EVENT, ...)." })
export class GiftCategory {
  @Field({ description: "Key used in `Gift.category` and the `gifts(category:)` filter." })
  key: string;

  @Field({ description: "Display name." })
  name: string;

  @Field(() => Int, { description: "Display order, ascending." })
  sortOrder: number;
}

@ObjectType({ description: "A market the catalog sells in; a gift's `regions` may only list these." })
export class CatalogRegion {
  @Field({ description: "ISO 3166 alpha-2 code." })
  code: string;

  @Field({ description: "Display name (English)." })
  name: string;
}

/** Batches every Gift reference in one request into one SELECT (price from the periods included). */
export function giftLoader(ctx: Pick<CatalogContext, "services">): DataLoader<string, GiftRecord | null> {
  return new DataLoader((ids) => ctx.services.gifts.byIds(ids));
}

export const giftReference = {
  async __resolveReference(ref: { id: string }, ctx: CatalogContext): Promise<Gift | null> {
    const row = await ctx.loaders.gift.load(ref.id);
    return row ? Gift.from(row, ctx.services.cdnBaseUrl) : null;
  },
};

export function parseRegion(region: string | null | undefined, field: string[]): string | undefined {
  if (region == null) return undefined;
  if (!/^[A-Z]{2}$/.test(region)) throw badInput("region must be an ISO 3166 alpha-2 code like US", field);
  return region;
}

@Resolver(() => Gift)
export class GiftResolver {
  @Directive('@tag(name: "partner")')
  @Query(() => [Gift], { description: "Gifts a viewer can send now (or soon, with includeUpcoming), in display order." })
  async gifts(
    @Ctx() ctx: CatalogContext,
    @Arg("region", () => String, { nullable: true, description: "ISO 3166 alpha-2. Defaults to the caller's region; anonymous callers without it see every region's gifts." })
    region?: string | null,
    @Arg("category", () => String, { nullable: true, description: "Only this category key." }) category?: string | null,
    @Arg("includeUpcoming", () => Boolean, { nullable: true, defaultValue: false, description: "Also list event gifts whose window has not started yet." })
    includeUpcoming?: boolean | null,
  ): Promise<Gift[]> {
    const r = parseRegion(region, ["region"]) ?? ctx.user?.region;
    const rows = await ctx.services.gifts.list({ region: r, category: category ?? undefined, includeUpcoming: includeUpcoming ?? false });
    return rows.map((row) => Gift.from(row, ctx.services.cdnBaseUrl));
  }

  @Directive('@tag(name: "partner")')
  @Query(() => Gift, { nullable: true, description: "One gift by id, whatever its status or window (history and feeds refer to retired gifts too)." })
  async gift(@Ctx() ctx: CatalogContext, @Arg("id", () => ID, { description: "Gift id." }) id: string): Promise<Gift | null> {
    if (!isUuid(id)) throw badInput("id is not a gift id", ["id"]);
    const row = await ctx.loaders.gift.load(id);
    return row ? Gift.from(row, ctx.services.cdnBaseUrl) : null;
  }

  @Directive('@tag(name: "partner")')
  @Query(() => [GiftCategory], { description: "Gift categories in display order." })
  async giftCategories(@Ctx() ctx: CatalogContext): Promise<GiftCategory[]> {
    const rows = await ctx.services.gifts.listCategories();
    return rows.map((c) => Object.assign(new GiftCategory(), { key: c.key, name: c.name, sortOrder: c.sortOrder }));
  }

  @Query(() => [CatalogRegion], { description: "Markets a gift can be limited to (for admin forms), by code." })
  async catalogRegions(@Ctx() ctx: CatalogContext): Promise<CatalogRegion[]> {
    const rows = await ctx.services.gifts.listRegions();
    return rows.map((r) => Object.assign(new CatalogRegion(), r));
  }
}
