import { Arg, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root } from "type-graphql";
import { requireRole, requireSelfOrAdmin } from "../../../platform/auth.js";
import { UserError, withUserErrors } from "../../../platform/errors.js";
import type { HoldRecord } from "../domain/payout-holds.js";
import type { EarningsContext } from "./context.js";
import { Creator } from "./creator.js";
import { Payout } from "./payouts.js";

@Directive('@tag(name: "internal")')
@ObjectType({ description: "One step of a payout's lifecycle." })
export class PayoutEvent {
  @Field(() => String, { nullable: true, description: "Status before the step; null for the request." })
  from: string | null;

  @Field({ description: "Status after the step (PROCESSING → PROCESSING is a retry after the provider could not be reached)." })
  to: string;

  @Field({ description: "What happened, in words (submitted, retry planned, paid with the provider's reference, refused and why)." })
  note: string;

  @Field(() => Date, { description: "When." })
  at: Date;
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "How a payout is moving through the provider: attempts, the planned retry and every step so far." })
export class PayoutLifecycle {
  @Field(() => Int, { description: "Submissions to the payout provider so far (retries reuse the same idempotency key: never a second transfer)." })
  attempts: number;

  @Field(() => Date, { nullable: true, description: "When the next submission is planned (the provider could not be reached); null otherwise." })
  nextAttemptAt: Date | null;

  @Field(() => String, { nullable: true, description: "The provider's reference for the transfer, once known." })
  providerRef: string | null;

  @Field(() => String, { nullable: true, description: "The last provider error. Admins only; null for everyone else." })
  lastError: string | null;

  @Field(() => Boolean, { description: "True while the creator's payouts are on hold (a REQUESTED payout waits for the hold to be lifted)." })
  onHold: boolean;

  @Field(() => [PayoutEvent], { description: "Every step, oldest first." })
  events: PayoutEvent[];
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "An admin's hold on a creator's payouts: REQUESTED payouts are not submitted until it is lifted." })
export class PayoutHold {
  @Field(() => Date, { description: "Since when." })
  since: Date;

  @Field(() => String, { nullable: true, description: "Why. Admins only; null for the creator." })
  reason: string | null;

  @Field(() => String, { nullable: true, description: "The admin who placed it. Admins only." })
  heldBy: string | null;
}

@Directive('@tag(name: "internal")')
@InputType({ description: "Hold or release a creator's payouts." })
export class PayoutHoldInput {
  @Field(() => ID, { description: "The creator." })
  creatorId: string;

  @Field({ description: "Why (kept in the hold history, 1..500 characters)." })
  reason: string;
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "Result of holdCreatorPayouts / releaseCreatorPayouts." })
export class PayoutHoldPayload {
  @Field(() => PayoutHold, { nullable: true, description: "The hold in force after the call; null when released (or on error)." })
  hold: PayoutHold | null;

  @Field(() => [UserError], { description: "Business failures (NOT_FOUND, INVALID_INPUT); empty on success." })
  userErrors: UserError[];
}

function holdView(h: HoldRecord, admin: boolean): PayoutHold {
  return Object.assign(new PayoutHold(), { since: new Date(h.heldAt), reason: admin ? h.reason : null, heldBy: admin ? h.heldBy : null });
}

const isAdmin = (ctx: EarningsContext) => ctx.user?.roles.includes("admin") ?? false;

@Resolver(() => Payout)
export class PayoutLifecycleResolver {
  @Directive('@tag(name: "internal")')
  @FieldResolver(() => PayoutLifecycle, { description: "Attempts, planned retry, hold and every step of the payout (the creator and admins)." })
  async lifecycle(@Root() p: Payout, @Ctx() ctx: EarningsContext): Promise<PayoutLifecycle> {
    requireSelfOrAdmin(ctx.user, p.creatorId);
    const [l, hold] = await Promise.all([ctx.services.payoutHolds.lifecycle(p.id), ctx.services.payoutHolds.holdOf(p.creatorId)]);
    return Object.assign(new PayoutLifecycle(), {
      attempts: l.attempts,
      nextAttemptAt: l.nextAttemptAt ? new Date(l.nextAttemptAt) : null,
      providerRef: l.providerRef,
      lastError: isAdmin(ctx) ? l.lastError : null,
      onHold: hold !== null,
      events: l.events.map((e) => Object.assign(new PayoutEvent(), { ...e, at: new Date(e.at) })),
    });
  }
}

@Resolver(() => Creator)
export class CreatorPayoutHoldResolver {
  @Directive('@tag(name: "internal")')
  @FieldResolver(() => PayoutHold, { nullable: true, description: "The hold on the creator's payouts; null when none. The creator and admins only (the reason: admins only)." })
  async payoutHold(@Root() c: Creator, @Ctx() ctx: EarningsContext): Promise<PayoutHold | null> {
    requireSelfOrAdmin(ctx.user, c.id);
    const h = await ctx.services.payoutHolds.holdOf(c.id);
    return h ? holdView(h, isAdmin(ctx)) : null;
  }
}

@Resolver()
export class PayoutHoldResolver {
  @Directive('@tag(name: "internal")')
  @Mutation(() => PayoutHoldPayload, { description: "Admin: hold a creator's payouts (REQUESTED ones are not submitted until released; in-flight ones finish). Holding again keeps the first hold." })
  async holdCreatorPayouts(@Ctx() ctx: EarningsContext, @Arg("input", () => PayoutHoldInput, { description: "See PayoutHoldInput." }) input: PayoutHoldInput): Promise<PayoutHoldPayload> {
    const admin = requireRole(ctx.user, "admin");
    return withUserErrors(async () => ({ hold: holdView(await ctx.services.payoutHolds.hold(admin.id, input.creatorId, input.reason), true) })) as Promise<PayoutHoldPayload>;
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => PayoutHoldPayload, { description: "Admin: lift a creator's payout hold; the next run submits their REQUESTED payouts. Releasing twice changes nothing." })
  async releaseCreatorPayouts(@Ctx() ctx: EarningsContext, @Arg("input", () => PayoutHoldInput, { description: "See PayoutHoldInput." }) input: PayoutHoldInput): Promise<PayoutHoldPayload> {
    const admin = requireRole(ctx.user, "admin");
    return withUserErrors(async () => {
      await ctx.services.payoutHolds.release(admin.id, input.creatorId, input.reason);
      return { hold: null };
    }) as Promise<PayoutHoldPayload>;
  }
}
