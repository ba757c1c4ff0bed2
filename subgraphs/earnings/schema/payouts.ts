import { Arg, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { requireRole, requireSelfOrAdmin } from "../../../platform/auth.js";
import { UserError, badInput, withUserErrors } from "../../../platform/errors.js";
import { Money, money } from "../../../platform/money.js";
import { payoutFailureCode, type PayoutFailureCode, type PayoutRecord, type PayoutStatus } from "../domain/payouts.js";
import type { EarningsContext } from "./context.js";
import { Creator, pageSize } from "./creator.js";

/** Payouts: the type, `Creator.payouts`, and requestPayout / cancelPayout / processPayouts (holds and lifecycle: payout-ops.ts). */
export enum PayoutStatusEnum {
  REQUESTED = "REQUESTED",
  PROCESSING = "PROCESSING",
  PAID = "PAID",
  FAILED = "FAILED",
  CANCELED = "CANCELED",
}
registerEnumType(PayoutStatusEnum, {
  name: "PayoutStatus",
  description: "Where a payout is in its lifecycle: REQUESTED → PROCESSING → PAID | FAILED; CANCELED from REQUESTED.",
  valuesConfig: {
    REQUESTED: { description: "Diamonds reserved; not yet sent to the payout provider. Can be canceled." },
    PROCESSING: { description: "Submitted to the payout provider." },
    PAID: { description: "The money was sent. Final." },
    FAILED: { description: "The provider refused it; the diamonds were returned to the balance. Final." },
    CANCELED: { description: "Canceled by the creator while REQUESTED; the diamonds were returned. Final." },
  },
});

export enum PayoutFailureCodeEnum {
  ACCOUNT_CLOSED = "ACCOUNT_CLOSED",
  PROVIDER_REJECTED = "PROVIDER_REJECTED",
}
registerEnumType(PayoutFailureCodeEnum, {
  name: "PayoutFailureCode",
  description: "Why a FAILED payout failed. The diamonds are back in the balance in every case.",
  valuesConfig: {
    ACCOUNT_CLOSED: { description: "The destination account is closed: the creator must update their payout account before requesting again." },
    PROVIDER_REJECTED: { description: "The payout provider refused it for another reason (see failureReason); contact support before retrying." },
  },
});

@Directive('@tag(name: "internal")')
@ObjectType({ description: "A creator's cash-out of diamonds." })
export class Payout {
  @Field(() => ID, { description: "Payout id (uuid)." })
  id: string;

  creatorId: string;

  @Field(() => Int, { description: "Diamonds reserved for this payout." })
  diamonds: number;

  @Field(() => Int, { description: "Value in the currency's minor unit: 0.005 USD per diamond, so 10,000 diamonds = 5000 (USD 50.00)." })
  amountMinor: number;

  @Field({ description: "ISO 4217 currency of amountMinor (USD)." })
  currency: string;

  @Field(() => Money, { description: "The payout's value as Money (same amount; `formatted` for display, e.g. $50.00)." })
  amount: Money;

  @Field(() => PayoutStatusEnum, { description: "Lifecycle status." })
  status: PayoutStatus;

  @Field(() => String, { nullable: true, description: "Why the provider refused it, in words for people (FAILED only). Switch on failureCode instead." })
  failureReason: string | null;

  @Field(() => PayoutFailureCodeEnum, { nullable: true, description: "Why the provider refused it, as a code to switch on (FAILED only; null otherwise)." })
  failureCode: PayoutFailureCode | null;

  @Field({ description: "When the payout was requested." })
  requestedAt: Date;

  @Field(() => Date, { nullable: true, description: "When it was submitted to the provider." })
  processingAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When it reached PAID, FAILED or CANCELED." })
  completedAt: Date | null;

  static from(p: PayoutRecord): Payout {
    return Object.assign(new Payout(), {
      ...p,
      failureCode: payoutFailureCode(p.failureReason),
      amount: money(p.amountMinor, p.currency),
      requestedAt: new Date(p.requestedAt),
      processingAt: p.processingAt ? new Date(p.processingAt) : null,
      completedAt: p.completedAt ? new Date(p.completedAt) : null,
    });
  }
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "A page of payouts, newest first." })
export class PayoutPage {
  @Field(() => [Payout], { description: "The payouts on this page." })
  nodes: Payout[];

  @Field(() => String, { nullable: true, description: "Pass as `after` to get the next page; null when the page is empty." })
  endCursor: string | null;

  @Field({ description: "True when more payouts follow." })
  hasNextPage: boolean;
}

@InputType({ description: "Cash out diamonds." })
export class RequestPayoutInput {
  @Field(() => Int, { description: "Diamonds to cash out: at least 10,000 and an even number (whole cents at 0.005 USD per diamond)." })
  diamonds: number;

  @Field({ description: "Unique per request (retries reuse it): the same key and input return the original payout." })
  idempotencyKey: string;
}

@InputType({ description: "Cancel a payout that is still REQUESTED." })
export class CancelPayoutInput {
  @Field(() => ID, { description: "The payout to cancel." })
  id: string;
}

@InputType({ description: "Operator: advance payouts through the payout provider." })
export class ProcessPayoutsInput {
  @Field(() => Int, { nullable: true, defaultValue: 100, description: "Most payouts to process in this call (1 to 1000)." })
  limit: number;
}

@ObjectType({ description: "Result of requestPayout / cancelPayout." })
export class PayoutPayload {
  @Field(() => Payout, { nullable: true, description: "The payout; null when userErrors is not empty." })
  payout: Payout | null;

  @Field(() => [UserError], { description: "Business failures (BELOW_MINIMUM, INSUFFICIENT_DIAMONDS, LIMIT_EXCEEDED, ...); empty on success." })
  userErrors: UserError[];
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "Result of processPayouts." })
export class ProcessPayoutsPayload {
  @Field(() => [Payout], { description: "The payouts this call advanced, in their new state." })
  payouts: Payout[];

  @Field(() => [UserError], { description: "Business failures; empty on success." })
  userErrors: UserError[];
}

@Resolver(() => Creator)
export class CreatorPayoutsResolver {
  @Directive('@tag(name: "internal")')
  @FieldResolver(() => PayoutPage, {
    nullable: true,
    description: "The creator's payouts, newest first. Only the creator and admins: anyone else gets null here with a FORBIDDEN error, the creator stands.",
    deprecationReason: "Use payoutsConnection (a Relay connection: edges { cursor node } pageInfo), the one pagination style of the graph.",
  })
  async payouts(
    @Root() creator: Creator,
    @Ctx() ctx: EarningsContext,
    @Arg("first", () => Int, { nullable: true, defaultValue: 20, description: "Page size, 1 to 100." }) first: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string | null,
  ): Promise<PayoutPage> {
    requireSelfOrAdmin(ctx.user, creator.id);
    const page = await ctx.services.payouts.list(creator.id, pageSize(first), after);
    return Object.assign(new PayoutPage(), { ...page, nodes: page.nodes.map(Payout.from) });
  }
}

@Resolver(() => Payout)
export class PayoutResolver {
  @Mutation(() => PayoutPayload, {
    description: "Cash out diamonds (host role): at least 10,000, within the daily maximum, reserved at once (never spendable twice). Idempotent by idempotencyKey.",
  })
  async requestPayout(@Ctx() ctx: EarningsContext, @Arg("input", () => RequestPayoutInput, { description: "What to do; each field is described on the input type." }) input: RequestPayoutInput): Promise<PayoutPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ payout: Payout.from((await ctx.services.payouts.request(user, input.diamonds, input.idempotencyKey)).payout) })) as Promise<PayoutPayload>;
  }

  @Mutation(() => PayoutPayload, { description: "Cancel your payout while it is REQUESTED; the diamonds return to your balance. Cancelling twice returns the canceled payout." })
  async cancelPayout(@Ctx() ctx: EarningsContext, @Arg("input", () => CancelPayoutInput, { description: "What to do; each field is described on the input type." }) input: CancelPayoutInput): Promise<PayoutPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ payout: Payout.from(await ctx.services.payouts.cancel(user, input.id)) })) as Promise<PayoutPayload>;
  }

  @Directive('@tag(name: "internal")')
  @Mutation(() => ProcessPayoutsPayload, { description: "Operator (admin role): submit REQUESTED payouts to the payout provider and record PAID / FAILED (FAILED returns the diamonds)." })
  async processPayouts(@Ctx() ctx: EarningsContext, @Arg("input", () => ProcessPayoutsInput, { nullable: true, description: "See the input type; defaults apply when omitted." }) input?: ProcessPayoutsInput): Promise<ProcessPayoutsPayload> {
    requireRole(ctx.user, "admin");
    const limit = input?.limit ?? 100;
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw badInput("limit must be between 1 and 1000", ["input", "limit"]);
    // Through the scheduler's run lock: one run at a time across instances (a run in progress is waited for, briefly).
    return withUserErrors(async () => ({ payouts: ((await ctx.services.payoutScheduler.run("MANUAL", null, limit))?.payouts ?? []).map(Payout.from) })) as Promise<ProcessPayoutsPayload>;
  }
}
