import DataLoader from "dataloader";
import { notFound } from "../../../platform/codes.js";
import type { AuthUser } from "../../../platform/auth.js";
import { Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Resolver, Root } from "type-graphql";
import type { FeedEngagement } from "../domain/engagement.js";
import { feedRowsByIds, type FeedRow } from "../domain/feed.js";
import { encodeCursor } from "../transport/stream/cursor.js";
import type { EarningsContext } from "./context.js";
import { Creator, User } from "./creator.js";
import { LiveSession } from "./live-session.js";

/** The catalog owns gifts; earnings refers to one by id and the gateway fetches the rest. */
@Directive('@key(fields: "id", resolvable: false)')
@ObjectType({ description: "A gift in the catalog: something a viewer can send to a host, priced in coins." })
export class Gift {
  @Field(() => ID, { description: "The gift's id." })
  id: string;
}

/** Who may see a stream event's earnings-private fields. */
export type EventScope = "host" | "public" | "entity";

/**
 * A credited gift as earnings knows it (contract 1): the fields shared with the wallet
 * (@shareable, identical types) plus the earnings-only stream fields. A subscription
 * event therefore needs only the catalog in the gateway's plan.
 */
// The fields both views share. Declared as an object type only so type-graphql copies them into
// its subclasses; it is never returned, so it stays out of the schema.
@ObjectType("GiftEventFields")
export abstract class GiftEventFields {
  @Directive('@tag(name: "partner")')
  @Field(() => ID, { description: "Unique id of this send; the idempotent result of one sendGift." })
  id: string;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => User, {
    nullable: true,
    description: "Who sent it. Null only when the wallet could not be reached for a field you selected; the error says so and the rest of the event stands.",
  })
  sender: User | null;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field({ description: "The sender's display name at send time (as in their token then)." })
  senderName: string;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => Gift, {
    nullable: true,
    description: "What was sent. Null only when the catalog could not be reached for a field you selected; the error says so and the rest of the event (its cursor included) stands.",
  })
  gift: Gift | null;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => Creator, { description: "Who received it." })
  host: Creator;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => Int, { description: "How many of the gift were sent at once." })
  quantity: number;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => Int, { description: "Coins per gift at send time (the catalog price the sender paid)." })
  unitCost: number;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => Int, { description: "Coins spent: unitCost × quantity." })
  coins: number;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => ID, { nullable: true, description: "The combo (streak) this send belongs to, when sent as one." })
  comboId: string | null;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => Date, { description: "When the coins were debited." })
  sentAt: Date;

@Directive('@tag(name: "partner")')
  @Field(() => String, {
    nullable: true,
    description: "Opaque stream position of this event. Resubscribe with `after: cursor` to resume exactly after it. Null outside a stream.",
  })
  cursor: string | null;

@Directive('@tag(name: "partner")')
  @Field(() => Int, {
    nullable: true,
    description: "Gifts sent so far in this combo, this send included (a combo end carries the final count). Null when not part of a combo.",
  })
  comboCount: number | null;

@Directive('@tag(name: "partner")')
  @Field(() => Boolean, {
    nullable: true,
    description:
      "True on the event that ends a combo: a separate event with quantity 0 and coins 0 (so totals count each gift once), sent when the sender's next gift to the host does not continue the combo or after a few seconds without one. False on gifts in an open combo; null when not part of a combo.",
  })
  comboEnded: boolean | null;

  @Field(() => Boolean, {
    description: "True for a host's test gift (sendTestGift): shown on the host's own stream and overlay only, it cost nothing and counts nowhere. False for real gifts.",
  })
  isTest: boolean;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => String, { nullable: true, description: "The sender's message shown with the gift (moderated; its length bought by the send's coins); null when none." })
  message: string | null;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field({ description: "True when the sender chose to stay anonymous: sender is null and senderName is \"Anonymous\" for everyone but the sender and admins; the gift still counts in every total." })
  anonymous: boolean;

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @Field(() => ID, { nullable: true, description: "The video the gift was sent on (a video owned outside this graph), when sent outside a live session." })
  videoId: string | null;

  // Not fields: who may see diamonds.
  scope: EventScope;
  hostId: string;
  liveSessionId: string | null;
  diamondsValue: number;
  senderId: string;
  engagement: FeedEngagement | null;
  /** The sender is hidden from this viewer (anonymous gift): so are their level and level-up. */
  senderHidden: boolean;

  /**
   * `viewer` may unmask an anonymous sender (themselves, admins) except on the public room feed,
   * which is the same for everyone in the room (so it can be executed once and shared).
   */
  static fields(row: FeedRow, scope: EventScope, viewer?: AuthUser | null) {
    const anonymous = row.engagement?.anonymous === true;
    const hidden = anonymous && !(scope !== "public" && !!viewer && (viewer.id === row.senderId || viewer.roles.includes("admin")));
    return {
      id: row.id,
      sender: hidden ? null : Object.assign(new User(), { id: row.senderId }),
      senderName: hidden ? ANONYMOUS_NAME : row.senderName,
      message: row.engagement?.message ?? null,
      anonymous,
      videoId: row.engagement?.videoId ?? null,
      gift: Object.assign(new Gift(), { id: row.giftId }),
      quantity: row.quantity,
      unitCost: row.unitCost,
      coins: row.coins,
      comboId: row.comboId,
      sentAt: row.sentAt,
      cursor: scope === "entity" ? null : encodeCursor(row.seq),
      comboCount: row.comboCount,
      comboEnded: row.comboEnded,
      scope,
      hostId: row.hostId,
      liveSessionId: row.liveSessionId,
      diamondsValue: row.diamonds,
      isTest: row.isTest,
      senderId: row.senderId,
      engagement: row.engagement,
      senderHidden: hidden,
    };
  }
}

/** The gift event itself (an entity shared with the wallet); the room feed's public view is RoomGiftEvent (room-feed.ts). */
@Directive('@key(fields: "id")')
@ObjectType({ description: "A gift sent by a viewer to a host: what was sent, by whom, to whom, and what it cost." })
export class GiftEvent extends GiftEventFields {
  static from(row: FeedRow, scope: EventScope, viewer?: AuthUser | null): GiftEvent {
    return Object.assign(new GiftEvent(), GiftEventFields.fields(row, scope, viewer));
  }
}

/** What everyone else sees for an anonymous sender (the wallet uses the same words). */
export const ANONYMOUS_NAME = "Anonymous";

/** Built in the request context (index.ts): GiftEvent references (e.g. sendGift's giftEvent { diamonds }) batched into one SELECT. */
export function giftEventLoader(ctx: Pick<EarningsContext, "services">) {
  return new DataLoader((ids: readonly string[]) => feedRowsByIds(ctx.services.creators.dataSource, ids));
}

export const giftEventReference = {
  /** Null until earnings has credited the gift (the consumer runs shortly after the send). */
  async __resolveReference(ref: { id: string }, ctx: EarningsContext): Promise<GiftEvent | null> {
    const row = await ctx.loaders.giftEvent.load(ref.id);
    return row ? GiftEvent.from(row, "entity", ctx.user) : null;
  },
};

@Resolver(() => GiftEvent)
export class GiftEventStreamResolver {
@Directive('@tag(name: "internal")')
  @FieldResolver(() => Int, {
    nullable: true,
    description:
      "Diamonds this send added to the host's earnings: their revenue share of its coins, with the fraction a share leaves carried to the host's next gift (at 50%, 1-coin gifts add 0, 1, 0, 1, …), so the host's total is always floor(Σ coins × share). Only the host (and admins) see it, and never on the public room feed; null otherwise.",
  })
  diamonds(@Root() event: GiftEvent, @Ctx() ctx: EarningsContext): number | null {
    if (event.scope === "public") return null;
    const user = ctx.user;
    if (!user || (user.id !== event.hostId && !user.roles.includes("admin"))) return null;
    return event.diamondsValue;
  }

  @Directive("@shareable")
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Creator, { description: "Who received it." })
  async host(@Root() event: GiftEvent, @Ctx() ctx: EarningsContext): Promise<Creator> {
    const row = await ctx.loaders.creator.load(event.hostId);
    if (!row) throw notFound("host profile not found");
    return Creator.from(row);
  }
}

@Resolver(() => GiftEvent)
export class GiftEventLiveSessionResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => LiveSession, { nullable: true, description: "The live session the gift was sent during, when it was sent to one." })
  async liveSession(@Root() event: GiftEvent, @Ctx() ctx: EarningsContext): Promise<LiveSession | null> {
    if (!event.liveSessionId) return null;
    const row = await ctx.loaders.liveSession.load(event.liveSessionId);
    return row ? LiveSession.from(row) : null;
  }
}
