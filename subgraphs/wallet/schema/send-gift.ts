import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Resolver } from "type-graphql";
import { requireUser } from "../../../platform/auth.js";
import { UserError, withUserErrors } from "../../../platform/errors.js";
import { parseSendGiftInput } from "../domain/gifting.js";
import type { Balance } from "../domain/accounts.js";
import type { WalletContext } from "./context.js";
import { GiftEvent } from "./gift-event.js";
import { Wallet, walletView } from "./user.js";

@InputType({ description: "Send a gift to a host. Retrying with the same idempotencyKey never sends twice." })
export class SendGiftInput {
  @Field(() => ID, { description: "The gift to send (from Query.gifts)." })
  giftId: string;

  @Field(() => ID, { description: "The receiving host (a creator)." })
  hostId: string;

  @Field(() => ID, { nullable: true, description: "The host's live session the gift is sent in; omit for a gift outside a stream (e.g. to a video)." })
  liveSessionId?: string | null;

  @Field(() => Int, {
    nullable: true,
    defaultValue: 1,
    description: "How many to send at once: 1-99; streakable gifts sent with a comboId up to 9,999 (and at most 9,999 per combo).",
  })
  quantity?: number | null;

  @Field(() => ID, {
    nullable: true,
    description: "Client-chosen id of a combo (streak): repeated sends of one streakable gift to one host. Reuse it for every send of the streak.",
  })
  comboId?: string | null;

  @Field(() => Int, { nullable: true, description: "The unit cost the viewer saw; if the price has changed since, nothing is sent and the error says the current price." })
  expectedUnitCost?: number | null;

  @Field({ description: "Unique per attempted send (per user); a retry with the same key returns the original result." })
  idempotencyKey: string;

  @Field(() => String, {
    nullable: true,
    description:
      "A message shown with the gift on the streams, at most 150 characters; how many a send buys depends on its coins: 1+ coins 20, 10+ coins 50, 100+ coins 100, 1,000+ coins 150 (INVALID_INPUT over that). A message that breaks the community guidelines is refused with MESSAGE_REJECTED. Nothing is charged on either.",
  })
  message?: string | null;

  @Field(() => Boolean, {
    nullable: true,
    defaultValue: false,
    description: "Send anonymously: nobody but you and admins sees who sent it (feeds, host stream, leaderboards, partners); it still counts in every total.",
  })
  anonymous?: boolean | null;

  @Field(() => ID, { nullable: true, description: "Send the gift on a video (owned outside this graph) instead of in a live session; not together with liveSessionId." })
  videoId?: string | null;
}

@ObjectType({ description: "Result of sendGift: the gift event, or why nothing was sent." })
export class SendGiftPayload {
  @Field(() => GiftEvent, { nullable: true, description: "The sent gift; null when userErrors is not empty." })
  giftEvent: GiftEvent | null;

  @Field(() => Wallet, {
    nullable: true,
    description:
      "The sender's wallet as it is now (after this send; unchanged when userErrors is not empty). Select `wallet { id coins debt }` so a normalized client cache updates the balance it shows.",
  })
  wallet: Wallet | null;

  @Field(() => [UserError], { description: "Business failures (INSUFFICIENT_COINS, PRICE_CHANGED, ...); nothing was charged when present." })
  userErrors: UserError[];
}

@Resolver()
export class SendGiftResolver {
  @Mutation(() => SendGiftPayload, {
    description:
      "Spends the caller's coins on a gift to a host: validates the gift, host and price, debits the coins and records the gift, all or nothing. Idempotent per idempotencyKey.",
  })
  async sendGift(@Arg("input", () => SendGiftInput, { description: "What to do; each field is described on the input type." }) input: SendGiftInput, @Ctx() ctx: WalletContext): Promise<SendGiftPayload> {
    const user = requireUser(ctx.user);
    const cmd = parseSendGiftInput(input);
    // Leaderboards and gift senders show the sender's name: keep the one in this token (writes only on change).
    await ctx.services.profiles.touch(user);
    let after: Balance | undefined;
    const payload = await withUserErrors(async () => {
      const { giftEvent, balance } = await ctx.services.gifting.send(user, cmd, ctx.authorization, ctx.traceparent);
      after = balance;
      return { giftEvent: GiftEvent.from(giftEvent, user) };
    });
    // As the send's batch left it, or read now (not the event's balanceAfter: a replay or a
    // concurrent send must not show an old balance).
    const balance = after ?? (await ctx.services.accounts.balanceNow(user.id));
    return Object.assign(new SendGiftPayload(), { giftEvent: null }, payload, { wallet: walletView(balance) });
  }
}
