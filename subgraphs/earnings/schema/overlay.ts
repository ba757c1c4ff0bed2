import { Arg, Ctx, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root } from "type-graphql";
import { requireRole } from "../../../platform/auth.js";
import { UserError, withUserErrors } from "../../../platform/errors.js";
import { MAX_TEST_GIFT_QUANTITY, type OverlayTokenRow } from "../domain/overlays.js";
import type { EarningsContext } from "./context.js";
import { Creator } from "./creator.js";
import { GiftEvent } from "./gift-event.js";

@ObjectType({ description: "A revocable, read-only credential for a host's OBS overlay: it can follow that host's giftReceived stream and nothing else." })
export class OverlayToken {
  @Field(() => ID, { description: "The token's id (revoke it with this); the token itself is shown only once, at creation." })
  id: string;

  @Field({ description: "When it was created." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When it was revoked; null while active." })
  revokedAt: Date | null;

  static from(r: OverlayTokenRow): OverlayToken {
    return Object.assign(new OverlayToken(), { id: r.id, createdAt: r.createdAt, revokedAt: r.revokedAt });
  }
}

@ObjectType({ description: "Result of createOverlayToken." })
export class CreateOverlayTokenPayload {
  @Field(() => String, { nullable: true, description: "The secret overlay token (shown once; only a hash is stored). Null when userErrors is not empty." })
  token: string | null;

  @Field(() => String, { nullable: true, description: "The overlay's absolute URL with the token (and the host id, for its goal bars) in it: paste it into an OBS browser source. Null when userErrors is not empty." })
  url: string | null;

  @Field(() => OverlayToken, { nullable: true, description: "The token's record (its id revokes it). Null when userErrors is not empty." })
  overlayToken: OverlayToken | null;

  @Field(() => [UserError], { description: "Business failures (TOO_MANY_OVERLAY_TOKENS); empty on success." })
  userErrors: UserError[];
}

@InputType({ description: "Revoke an overlay token." })
export class RevokeOverlayTokenInput {
  @Field(() => ID, { description: "The overlay token's id." })
  id: string;
}

@ObjectType({ description: "Result of revokeOverlayToken." })
export class RevokeOverlayTokenPayload {
  @Field(() => OverlayToken, { nullable: true, description: "The revoked token; null when userErrors is not empty." })
  overlayToken: OverlayToken | null;

  @Field(() => [UserError], { description: "Business failures (NOT_FOUND); empty on success." })
  userErrors: UserError[];
}

@InputType({ description: "Put a test gift on your own stream and overlay." })
export class SendTestGiftInput {
  @Field(() => ID, { description: "The gift to show (an id from `gifts`)." })
  giftId: string;

  @Field(() => Int, { nullable: true, defaultValue: 1, description: `How many, 1 to ${MAX_TEST_GIFT_QUANTITY}.` })
  quantity: number;
}

@ObjectType({ description: "Result of sendTestGift." })
export class SendTestGiftPayload {
  @Field(() => GiftEvent, { nullable: true, description: "The test gift event (isTest true, coins 0). Null when userErrors is not empty." })
  giftEvent: GiftEvent | null;

  @Field(() => [UserError], { description: "Business failures; empty on success." })
  userErrors: UserError[];
}

@Resolver()
export class OverlayResolver {
  @Mutation(() => CreateOverlayTokenPayload, {
    description:
      "Host role: a new overlay token and the overlay's URL. Long-lived (an OBS source cannot refresh a JWT) until revoked; it can only read your own giftReceived stream.",
  })
  async createOverlayToken(@Ctx() ctx: EarningsContext): Promise<CreateOverlayTokenPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => {
      const { token, row } = await ctx.services.overlays.create(user);
      return { token, url: ctx.services.overlays.urlFor(token, row.hostId), overlayToken: OverlayToken.from(row) };
    }) as Promise<CreateOverlayTokenPayload>;
  }

  @Mutation(() => RevokeOverlayTokenPayload, { description: "Host role: revoke one of your overlay tokens; overlays using it are disconnected within a second." })
  async revokeOverlayToken(@Ctx() ctx: EarningsContext, @Arg("input", () => RevokeOverlayTokenInput, { description: "See RevokeOverlayTokenInput." }) input: RevokeOverlayTokenInput): Promise<RevokeOverlayTokenPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ overlayToken: OverlayToken.from(await ctx.services.overlays.revoke(user, input.id)) })) as Promise<RevokeOverlayTokenPayload>;
  }

  @Mutation(() => SendTestGiftPayload, {
    description:
      "Host role: a clearly marked test gift (isTest true) on your own giftReceived stream and overlay, to place the overlay before going live. " +
      "It costs nothing and never counts: no diamonds, totals, leaderboards or coin ledger, and it never appears on a room's public feed.",
  })
  async sendTestGift(@Ctx() ctx: EarningsContext, @Arg("input", () => SendTestGiftInput, { description: "See SendTestGiftInput." }) input: SendTestGiftInput): Promise<SendTestGiftPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ giftEvent: GiftEvent.from(await ctx.services.overlays.sendTestGift(user, input.giftId, input.quantity ?? 1), "host") })) as Promise<SendTestGiftPayload>;
  }
}

@Resolver(() => Creator)
export class CreatorOverlayResolver {
  @FieldResolver(() => [OverlayToken], { nullable: true, description: "The creator's active overlay tokens, newest first. Only the creator sees them; null for anyone else." })
  async overlayTokens(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<OverlayToken[] | null> {
    if (!ctx.user || ctx.user.id !== creator.id) return null;
    return (await ctx.services.overlays.list(creator.id)).map(OverlayToken.from);
  }
}
