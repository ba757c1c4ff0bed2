import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, ID, Int, ObjectType, Query, Resolver, registerEnumType } from "type-graphql";
import { badInput } from "../../common/errors.js";
import type { GiftRow } from "../db/index.js";
import { isUuid } from "../domain/gifts.js";
import type { CatalogContext } from "./context.js";

export enum GiftStatus {
  ACTIVE = "ACTIVE",
  RETIRED = "RETIRED",
}
registerEnumType(GiftStatus, { name: "GiftStatus" });

@Directive('@key(fields: "id")')
@ObjectType({ description: "Something a viewer can send to a host, priced in coins." })
export class Gift {
  @Field(() => ID)
  id: string;

  @Field({ description: "Stable, URL-safe identifier (e.g. `rose`)." })
  slug: string;

  @Field()
  name: string;

  @Field()
  description: string;

  @Field(() => Int, { description: "Current price of one gift, in coins." })
  coinCost: number;

  @Field({ description: "Category key, e.g. BASIC, PREMIUM, SPECIAL, EVENT." })
  category: string;

  @Field({ description: "Static image on the CDN." })
  imageUrl: string;

  @Field(() => String, { nullable: true, description: "Full-screen animation on the CDN, when the gift has one." })
  animationUrl: string | null;

  @Field({ description: "Cheap gifts can be sent as combos (streaks)." })
  streakable: boolean;

  @Field(() => Date, { nullable: true, description: "Limited-time gifts: start of the sending window." })
  availableFrom: Date | null;

  @Field(() => Date, { nullable: true, description: "Limited-time gifts: end of the sending window (exclusive)." })
  availableUntil: Date | null;

  @Field(() => [String], { nullable: true, description: "ISO 3166 regions where the gift is sold; null means everywhere." })
  regions: string[] | null;

  @Field(() => GiftStatus)
  status: GiftStatus;

  @Field(() => Int)
  sortOrder: number;

  static from(row: GiftRow, cdnBaseUrl: string): Gift {
    return Object.assign(new Gift(), {
      id: row.id,
      slug: row.slug,
      name: row.name,
      description: row.description,
      coinCost: row.coinCost,
      category: row.category,
      imageUrl: `${cdnBaseUrl}/${row.imagePath}`,
      animationUrl: row.animationPath ? `${cdnBaseUrl}/${row.animationPath}` : null,
      streakable: row.streakable,
      availableFrom: row.availableFrom,
      availableUntil: row.availableUntil,
      regions: row.regions,
      status: row.status as GiftStatus,
      sortOrder: row.sortOrder,
    });
  }
}

/** Batches every Gift reference in one request into one SELECT. */
export function giftLoader(ctx: Pick<CatalogContext, "services">): DataLoader<string, GiftRow | null> {
  return new DataLoader((ids) => ctx.services.gifts.byIds(ids));
}

export const giftReference = {
  async __resolveReference(ref: { id: string }, ctx: CatalogContext): Promise<Gift | null> {
    const row = await ctx.loaders.gift.load(ref.id);
    return row ? Gift.from(row, ctx.services.cdnBaseUrl) : null;
  },
};

@Resolver(() => Gift)
export class GiftResolver {
  @Query(() => [Gift], { description: "Gifts a viewer can send now (or soon, with includeUpcoming), in display order." })
  async gifts(
    @Ctx() ctx: CatalogContext,
    @Arg("region", () => String, { nullable: true, description: "Defaults to the caller's region; omitted for anonymous callers lists every region." })
    region?: string | null,
    @Arg("category", () => String, { nullable: true }) category?: string | null,
    @Arg("includeUpcoming", () => Boolean, { nullable: true, defaultValue: false }) includeUpcoming?: boolean,
  ): Promise<Gift[]> {
    if (region != null && !/^[A-Z]{2}$/.test(region)) throw badInput("region must be an ISO 3166 alpha-2 code like US", ["region"]);
    const rows = await ctx.services.gifts.list({ region: region ?? ctx.user?.region, category: category ?? undefined, includeUpcoming });
    return rows.map((r) => Gift.from(r, ctx.services.cdnBaseUrl));
  }

  @Query(() => Gift, { nullable: true })
  async gift(@Ctx() ctx: CatalogContext, @Arg("id", () => ID) id: string): Promise<Gift | null> {
    if (!isUuid(id)) throw badInput("id is not a gift id", ["id"]);
    const row = await ctx.loaders.gift.load(id);
    return row ? Gift.from(row, ctx.services.cdnBaseUrl) : null;
  }
}
