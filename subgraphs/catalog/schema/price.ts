import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { forbidden, requireRole } from "../../../platform/auth.js";
import { explainPeriod, type PricePeriod } from "../domain/prices.js";
import type { CatalogContext } from "./context.js";
import { Gift } from "./gift.js";

export enum PriceChangeReason {
  INITIAL = "INITIAL",
  UPDATE = "UPDATE",
  SCHEDULED = "SCHEDULED",
}
registerEnumType(PriceChangeReason, {
  name: "PriceChangeReason",
  description: "What set a price: the gift's creation (INITIAL), an immediate admin change (UPDATE), or a scheduled change taking effect (SCHEDULED).",
});

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A gift's price with its validity interval [validFrom, validUntil), and why it was set." })
export class GiftPrice {
  @Field(() => ID, { description: "Price period id (an admin cancels a scheduled change by it)." })
  id: string;

  @Field(() => Int, { description: "Price of one gift in coins during this period." })
  coinCost: number;

  @Field(() => Date, { description: "Start of the period (inclusive)." })
  validFrom: Date;

  @Field(() => Date, { nullable: true, description: "End of the period (exclusive); null while it is the price until further notice." })
  validUntil: Date | null;

  @Field(() => PriceChangeReason, { description: "What set this price." })
  reason: PriceChangeReason;

  @Field(() => String, { nullable: true, description: "The admin's note on the change, if any." })
  note: string | null;

  @Directive('@tag(name: "internal")')
  @Field(() => String, { nullable: true, description: "Admin who made the change (admins only; null otherwise)." })
  changedBy: string | null;

  @Field(() => Date, { description: "When the change was recorded (for a scheduled change: when it was scheduled)." })
  recordedAt: Date;

  @Field({ description: "A sentence explaining this price, for support and audit." })
  explanation: string;

  static from(p: PricePeriod, opts: { admin: boolean; now: Date }): GiftPrice {
    // Schedules are not public until they take effect: a non-admin never learns a future change.
    const masked: PricePeriod = {
      ...p,
      validUntil: !opts.admin && p.validUntil && p.validUntil.getTime() > opts.now.getTime() ? null : p.validUntil,
      changedBy: opts.admin ? p.changedBy : null,
    };
    return Object.assign(new GiftPrice(), { ...masked, reason: masked.reason as PriceChangeReason, explanation: explainPeriod(masked) });
  }
}

export function priceLoaders(ctx: Pick<CatalogContext, "services">) {
  return {
    history: new DataLoader<string, PricePeriod[]>((ids) => ctx.services.prices.historyFor(ids)),
    at: new DataLoader<{ giftId: string; at: Date }, PricePeriod | null, string>((pairs) => ctx.services.prices.at(pairs), {
      cacheKeyFn: (k) => `${k.giftId}|${k.at.toISOString()}`,
    }),
  };
}

const isAdmin = (ctx: CatalogContext) => ctx.user?.roles.includes("admin") ?? false;

@Resolver(() => Gift)
export class GiftPriceResolver {
  @FieldResolver(() => GiftPrice, {
    nullable: true,
    description: "The price in force at `at` and why (null before the gift existed). Future instants: admins only (they see scheduled changes).",
  })
  async priceAt(@Root() gift: Gift, @Ctx() ctx: CatalogContext, @Arg("at", () => Date, { description: "Any instant (ISO 8601)." }) at: Date): Promise<GiftPrice | null> {
    const now = gift.record.now;
    const admin = isAdmin(ctx);
    if (at.getTime() > now.getTime() && !admin) throw forbidden("prices at future instants are visible to catalog admins only");
    const p = await ctx.loaders.prices.at.load({ giftId: gift.id, at });
    return p ? GiftPrice.from(p, { admin, now }) : null;
  }

  @FieldResolver(() => [GiftPrice], { description: "Every price this gift has had, oldest first, each with its validity interval. Scheduled (future) changes are in `scheduledPrices`." })
  async priceHistory(@Root() gift: Gift, @Ctx() ctx: CatalogContext): Promise<GiftPrice[]> {
    const now = gift.record.now;
    const admin = isAdmin(ctx);
    const periods = await ctx.loaders.prices.history.load(gift.id);
    return periods.filter((p) => p.validFrom.getTime() <= now.getTime()).map((p) => GiftPrice.from(p, { admin, now }));
  }

  @Directive('@tag(name: "internal")')
  @FieldResolver(() => [GiftPrice], {
    nullable: true,
    description: "Price changes scheduled for the future, soonest first. Admins only: anyone else gets null here with a FORBIDDEN error, and the rest of the gift (and the list) stands.",
  })
  async scheduledPrices(@Root() gift: Gift, @Ctx() ctx: CatalogContext): Promise<GiftPrice[]> {
    requireRole(ctx.user, "admin");
    const now = gift.record.now;
    const periods = await ctx.loaders.prices.history.load(gift.id);
    return periods.filter((p) => p.validFrom.getTime() > now.getTime()).map((p) => GiftPrice.from(p, { admin: true, now }));
  }
}
