import DataLoader from "dataloader";
import type { AuthUser } from "../../../platform/auth.js";
import { Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Resolver, Root } from "type-graphql";
import type { GiftEventRecord } from "../domain/gifting.js";
import { EntryType } from "../domain/ledger.js";
import type { WalletContext } from "./context.js";
import { User } from "./user.js";
import { WalletTransaction } from "./transactions.js";

/** The catalog owns gifts; the wallet only refers to one by id (the gateway fetches the rest). */
@Directive('@key(fields: "id", resolvable: false)')
@ObjectType({ description: "A gift in the catalog: something a viewer can send to a host, priced in coins." })
export class Gift {
  @Field(() => ID, { description: "The gift's id." })
  id: string;
}

/** Earnings owns creators; the wallet only refers to one by id. */
@Directive('@key(fields: "id", resolvable: false)')
@ObjectType({ description: "A host who receives gifts and earns diamonds." })
export class Creator {
  @Field(() => ID, { description: "The creator's user id." })
  id: string;
}

/**
 * One sendGift that succeeded. The wallet creates it (with the debit); earnings adds the
 * diamonds and the live-session fields; the catalog resolves `gift`. Fields that earnings
 * also stores from the gift.sent event are @shareable with identical types (contract 1).
 */
@Directive('@key(fields: "id")')
@ObjectType({ description: "A gift sent by a viewer to a host: what was sent, by whom, to whom, and what it cost." })
export class GiftEvent {
  @Field(() => ID, { description: "Unique id of this send; the idempotent result of one sendGift." })
  id: string;

  @Directive("@shareable")
  @Field(() => User, {
    nullable: true,
    description: "Who sent it. Null only when the wallet could not be reached for a field you selected; the error says so and the rest of the event stands.",
  })
  sender: User | null;

  @Directive("@shareable")
  @Field({ description: "The sender's display name at send time (as in their token then)." })
  senderName: string;

  @Directive("@shareable")
  @Field(() => Gift, {
    nullable: true,
    description: "What was sent. Null only when the catalog could not be reached for a field you selected; the error says so and the rest of the event (its cursor included) stands.",
  })
  gift: Gift | null;

  @Directive("@shareable")
  @Field(() => Creator, { description: "Who received it." })
  host: Creator;

  @Directive("@shareable")
  @Field(() => Int, { description: "How many of the gift were sent at once." })
  quantity: number;

  @Directive("@shareable")
  @Field(() => Int, { description: "Coins per gift at send time (the catalog price the sender paid)." })
  unitCost: number;

  @Directive("@shareable")
  @Field(() => Int, { description: "Coins spent: unitCost × quantity." })
  coins: number;

  @Directive("@shareable")
  @Field(() => ID, { nullable: true, description: "The combo (streak) this send belongs to, when sent as one." })
  comboId: string | null;

  @Directive("@shareable")
  @Field(() => Date, { description: "When the coins were debited." })
  sentAt: Date;

  @Directive("@shareable")
  @Field(() => String, { nullable: true, description: "The sender's message shown with the gift (moderated; its length bought by the send's coins); null when none." })
  message: string | null;

  @Directive("@shareable")
  @Field({ description: "True when the sender chose to stay anonymous: sender is null and senderName is \"Anonymous\" for everyone but the sender and admins; the gift still counts in every total." })
  anonymous: boolean;

  @Directive("@shareable")
  @Field(() => ID, { nullable: true, description: "The video the gift was sent on (a video owned outside this graph), when sent outside a live session." })
  videoId: string | null;

  // Not fields: the resolver below decides who may see the balance.
  senderId: string;
  balanceAfter: number;

  /** `viewer` decides whether an anonymous sender is shown (to themselves and admins only). */
  static from(r: GiftEventRecord, viewer: AuthUser | null | undefined): GiftEvent {
    const hidden = r.anonymous && !mayUnmask(viewer, r.senderId);
    return Object.assign(new GiftEvent(), {
      id: r.id,
      sender: hidden ? null : Object.assign(new User(), { id: r.senderId }),
      senderName: hidden ? ANONYMOUS_NAME : r.senderName,
      message: r.message,
      anonymous: r.anonymous,
      videoId: r.videoId,
      gift: Object.assign(new Gift(), { id: r.giftId }),
      host: Object.assign(new Creator(), { id: r.hostId }),
      quantity: r.quantity,
      unitCost: r.unitCost,
      coins: r.coins,
      comboId: r.comboId,
      sentAt: new Date(r.sentAt),
      senderId: r.senderId,
      balanceAfter: r.senderBalanceAfter,
    });
  }
}

/** What everyone else sees for an anonymous sender. */
export const ANONYMOUS_NAME = "Anonymous";

/** The sender themselves and admins may see who sent an anonymous gift. */
export function mayUnmask(viewer: AuthUser | null | undefined, senderId: string): boolean {
  return !!viewer && (viewer.id === senderId || viewer.roles.includes("admin"));
}

/** Batches every GiftEvent reference in one request into one SELECT. */
export function giftEventLoader(ctx: Pick<WalletContext, "services">): DataLoader<string, GiftEventRecord | null> {
  return new DataLoader((ids: readonly string[]) => ctx.services.gifting.byIds(ids));
}

export const giftEventReference = {
  async __resolveReference(ref: { id: string }, ctx: WalletContext): Promise<GiftEvent | null> {
    const record = await ctx.loaders.giftEvent.load(ref.id);
    return record ? GiftEvent.from(record, ctx.user) : null;
  },
};

@Resolver(() => GiftEvent)
export class GiftEventResolver {
  @Directive('@tag(name: "internal")')
  @FieldResolver(() => Int, {
    nullable: true,
    description: "The sender's coin balance right after this send. Only the sender (and admins) see it; null for anyone else.",
    deprecationReason: "A number does not update a client cache: select SendGiftPayload.wallet { id coins } (or me { wallet { id coins } }) instead.",
  })
  senderBalanceAfter(@Root() event: GiftEvent, @Ctx() ctx: WalletContext): number | null {
    const user = ctx.user;
    if (!user || (user.id !== event.senderId && !user.roles.includes("admin"))) return null;
    return event.balanceAfter;
  }
}

/** The wallet history links each GIFT_SENT entry to its gift, so a client can show "Rose ×3 to @host". */
@Resolver(() => WalletTransaction)
export class WalletTransactionGiftResolver {
  @FieldResolver(() => GiftEvent, { nullable: true, description: "GIFT_SENT entries: the gift the coins were spent on (one query per page). Null for other entries." })
  async giftEvent(@Root() entry: WalletTransaction, @Ctx() ctx: WalletContext): Promise<GiftEvent | null> {
    if (entry.type !== EntryType.GIFT_SENT || !entry.reference) return null;
    const record = await ctx.loaders.giftEvent.load(entry.reference);
    return record ? GiftEvent.from(record, ctx.user) : null;
  }
}
