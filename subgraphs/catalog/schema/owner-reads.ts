import { Arg, Ctx, Directive, Field, ID, Int, ObjectType, Query, Resolver } from "type-graphql";
import { badInput } from "../../../platform/errors.js";
import { isUuid, sendability, type NotSendableReason } from "../domain/gifts.js";
import type { CatalogContext } from "./context.js";
import { parseRegion } from "./gift.js";

/** Owner reads for the wallet's sendGift and earnings' goals (the client: subgraphs/catalog/transport/owner-reads-client.ts). Not part of the public API. */
@Directive("@inaccessible")
@ObjectType({ description: "Owner read for sendGift: the authoritative current price and sendability of a gift in a region." })
export class SendableGift {
  @Field(() => ID, { description: "Gift id." })
  id: string;

  @Field({ description: "Display name." })
  name: string;

  @Field(() => Int, { description: "Price of one gift in coins in force now." })
  coinCost: number;

  @Field({ description: "May be sent as a combo." })
  streakable: boolean;

  @Field({ description: "True when active, inside its window and sold in the region." })
  sendable: boolean;

  // A String, not an enum: an enum used only here would still leak into the public API schema.
  @Field(() => String, { nullable: true, description: "Why not, when not sendable: RETIRED, NOT_STARTED, ENDED or NOT_IN_REGION." })
  reason: NotSendableReason | null;

  @Field(() => Date, { nullable: true, description: "The answer cannot change before this instant without a catalog write (window edge or scheduled price); caches must expire it then." })
  stableUntil: Date | null;

  @Field(() => Date, { description: "The catalog's clock when this was computed." })
  computedAt: Date;
}

export const MAX_SENDING_BATCH = 200;

@Resolver()
export class OwnerReadResolver {
  @Directive("@inaccessible")
  @Query(() => [SendableGift], {
    nullable: "items",
    description: "Owner read for the wallet: price and sendability of gifts in a region, aligned with `ids` (null for unknown ids). One SQL query per call.",
  })
  async giftsForSending(
    @Ctx() ctx: CatalogContext,
    @Arg("ids", () => [ID], { description: `Gift ids (at most ${MAX_SENDING_BATCH}).` }) ids: string[],
    @Arg("region", () => String, { description: "The sender's ISO 3166 alpha-2 region." }) region: string,
  ): Promise<(SendableGift | null)[]> {
    if (ids.length > MAX_SENDING_BATCH) throw badInput(`at most ${MAX_SENDING_BATCH} ids per call`, ["ids"]);
    const r = parseRegion(region, ["region"])!;
    const rows = await ctx.services.gifts.byIds(ids.map((id) => (isUuid(id) ? id.toLowerCase() : id)));
    return rows.map((g) => {
      if (!g) return null;
      const s = sendability(g, r, g.now);
      return Object.assign(new SendableGift(), {
        id: g.id,
        name: g.name,
        coinCost: g.coinCost,
        streakable: g.streakable,
        sendable: s.sendable,
        reason: s.reason,
        stableUntil: s.stableUntil,
        computedAt: g.now,
      });
    });
  }
}
