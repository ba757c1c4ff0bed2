import { Arg, Ctx, Field, ID, InputType, Int, Mutation, ObjectType, Resolver } from "type-graphql";
import { requireUser } from "../../../platform/auth.js";
import { UserError, withUserErrors } from "../../../platform/errors.js";
import { parseSendGiftInput } from "../domain/gifting.js";
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
    const payload = await withUserErrors(async () => {
      const { giftEvent } = await ctx.services.gifting.send(user, cmd, ctx.authorization);
      return { giftEvent: GiftEvent.from(giftEvent) };
    });
    // Read after the send (not the event's balanceAfter): a replay or a concurrent send must not show an old balance.
    const [balance] = await ctx.services.accounts.balances([user.id]);
    return Object.assign(new SendGiftPayload(), { giftEvent: null }, payload, { wallet: walletView(balance) });
  }
}
