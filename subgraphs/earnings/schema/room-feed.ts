import { notFound } from "../../../platform/codes.js";
import { Ctx, Directive, FieldResolver, ObjectType, Resolver, Root } from "type-graphql";
import type { FeedRow } from "../domain/feed.js";
import type { EarningsContext } from "./context.js";
import { Creator } from "./creator.js";
import { LiveSession } from "./live-session.js";
import { GiftEventFields } from "./gift-event.js";

/**
 * A gift as the room sees it on `liveGiftFeed`: the public fields of the GiftEvent with the same
 * id, without the host's diamonds. A type of its own because a normalized client cache keys
 * objects by type and id: were it a `GiftEvent`, the room feed's `diamonds: null` and the host
 * stream's `diamonds: 10` would be two values of one object's field and the last write would win
 * (docs/frontend.md "Caching"). Not an entity: the gift event itself is `GiftEvent`.
 */
@Directive('@tag(name: "partner")')
@ObjectType({
  description:
    "A gift sent in a live session, as the room's public feed shows it (no host earnings). `id` is the GiftEvent's id; clients cache it as its own type, so it never overwrites the host's GiftEvent.",
})
export class RoomGiftEvent extends GiftEventFields {
  static fromRoom(row: FeedRow): RoomGiftEvent {
    return Object.assign(new RoomGiftEvent(), GiftEventFields.fields(row, "public"));
  }
}

@Resolver(() => RoomGiftEvent)
export class RoomGiftEventResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Creator, { description: "Who received it." })
  async host(@Root() event: RoomGiftEvent, @Ctx() ctx: EarningsContext): Promise<Creator> {
    const row = await ctx.loaders.creator.load(event.hostId);
    if (!row) throw notFound("host profile not found");
    return Creator.from(row);
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => LiveSession, { nullable: true, description: "The live session the gift was sent during." })
  async liveSession(@Root() event: RoomGiftEvent, @Ctx() ctx: EarningsContext): Promise<LiveSession | null> {
    if (!event.liveSessionId) return null;
    const row = await ctx.loaders.liveSession.load(event.liveSessionId);
    return row ? LiveSession.from(row) : null;
  }
}
