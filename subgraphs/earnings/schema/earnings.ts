import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { requireRole, requireSelfOrAdmin } from "../../../platform/auth.js";
import { UserError, badInput, withUserErrors } from "../../../platform/errors.js";
import { Money, money } from "../../../platform/money.js";
import { leaderboardSize, type LeaderboardKey, type TopGifterRow } from "../domain/leaderboards.js";
import { payoutFailureCode, type PayoutFailureCode, type PayoutRecord, type PayoutStatus } from "../domain/payouts.js";
import { boardMoment, boardScope } from "../domain/rankings.js";
import { sessionScope, type LeaderboardPeriod } from "../domain/revenue.js";
import type { EarningsContext } from "./context.js";
import { Creator, User, pageSize } from "./creator.js";
import { LiveSession } from "./live-session.js";

export enum LeaderboardPeriodEnum {
  LIVE_SESSION = "LIVE_SESSION",
  DAY = "DAY",
  WEEK = "WEEK",
  MONTH = "MONTH",
  ALL_TIME = "ALL_TIME",
}
registerEnumType(LeaderboardPeriodEnum, {
  name: "LeaderboardPeriod",
  description: "The window a leaderboard covers. Calendar periods are UTC; weeks start on Monday.",
  valuesConfig: {
    LIVE_SESSION: { description: "The session the creator is live in now, or their latest session when not live." },
    DAY: { description: "Today (UTC)." },
    WEEK: { description: "This week (UTC, from Monday 00:00)." },
    MONTH: { description: "This calendar month (UTC)." },
    ALL_TIME: { description: "Since the creator's first gift." },
  },
});

@Directive('@tag(name: "partner")')
@ObjectType({ description: "One place on a creator's leaderboard of gifters." })
export class TopGifter {
  @Field(() => Int, { description: "1 for the top gifter. Ties in coins go to whoever reached the total first." })
  rank: number;

  @Field(() => User, { nullable: true, description: "The viewer who sent the gifts; null for an anonymous entry (gifts sent anonymously are ranked, never named)." })
  sender: User | null;

  @Field({ description: "True for an entry of gifts sent anonymously: counted and ranked, shown as \"Anonymous\"." })
  anonymous: boolean;

  @Field(() => Int, { description: "Coins the viewer spent on gifts to this creator in the period." })
  coins: number;

  @Field(() => Int, { description: "Gifts the viewer sent in the period (quantity 10 counts 10)." })
  gifts: number;

  static from(r: TopGifterRow): TopGifter {
    return Object.assign(new TopGifter(), { rank: r.rank, sender: r.senderId === null ? null : Object.assign(new User(), { id: r.senderId }), anonymous: r.anonymous, coins: r.coins, gifts: r.gifts });
  }
}

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

@Directive('@tag(name: "internal")')
@ObjectType({ description: "A revenue-share override: the creator's share of coins from this moment on." })
export class RevenueShare {
  @Field(() => Int, { description: "Share in basis points: 5000 = 50% of the coins become diamonds." })
  shareBps: number;

  @Field({ description: "Gifts sent at or after this moment earn at this share (until the next override)." })
  effectiveFrom: Date;

  @Field({ description: "Admin who set it." })
  setBy: string;

  @Field({ description: "Why it was set." })
  reason: string;
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

@InputType({ description: "Admin: set a creator's revenue share from a moment on." })
export class SetRevenueShareInput {
  @Field(() => ID, { description: "The creator." })
  creatorId: string;

  @Field(() => Int, { description: "Share in basis points, 0 to 10,000 (5000 = 50%)." })
  shareBps: number;

  @Field(() => Date, { nullable: true, description: "When it takes effect; now when omitted. Never in the past." })
  effectiveFrom?: Date | null;

  @Field({ nullable: true, defaultValue: "", description: "Why (kept in the history)." })
  reason: string;
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

@Directive('@tag(name: "internal")')
@ObjectType({ description: "Result of setRevenueShare." })
export class SetRevenueSharePayload {
  @Field(() => [RevenueShare], { nullable: true, description: "The creator's full override history after the change." })
  history: RevenueShare[] | null;

  @Field(() => [UserError], { description: "Business failures; empty on success." })
  userErrors: UserError[];
}

export function leaderboardLoader(ctx: Pick<EarningsContext, "services">) {
  return new DataLoader<LeaderboardKey, TopGifterRow[], string>((keys) => ctx.services.leaderboards.top(keys), {
    cacheKeyFn: (k) => `${k.hostId}\u0000${k.scope}\u0000${k.first}`,
  });
}

@Resolver(() => Creator)
export class CreatorEarningsResolver {
  @Directive('@tag(name: "internal")')
  @FieldResolver(() => Int, { nullable: true, description: "Spendable diamonds. Only the creator and admins may read it (FORBIDDEN otherwise)." })
  async diamonds(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<number | null> {
    requireSelfOrAdmin(ctx.user, creator.id);
    return (await ctx.loaders.creator.load(creator.id))?.diamonds ?? 0;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Int, { description: "Diamonds earned from gifts since the creator started (payouts do not reduce it)." })
  async lifetimeDiamonds(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<number> {
    return (await ctx.loaders.creator.load(creator.id))?.lifetimeDiamonds ?? 0;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Int, { description: "Gifts received (a gift sent with quantity 10 counts 10)." })
  async giftsReceived(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<number> {
    return (await ctx.loaders.creator.load(creator.id))?.giftsReceived ?? 0;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => [TopGifter], { description: "The viewers who spent the most coins on gifts to this creator in the period." })
  async topGifters(
    @Root() creator: Creator,
    @Ctx() ctx: EarningsContext,
    @Arg("period", () => LeaderboardPeriodEnum, { defaultValue: LeaderboardPeriodEnum.ALL_TIME, description: "The window; ALL_TIME when omitted." }) period: LeaderboardPeriod,
    @Arg("first", () => Int, { nullable: true, defaultValue: 10, description: "How many places, 1 to 100." }) first: number,
    @Arg("at", () => Date, { nullable: true, description: "Read the board of the period containing this moment (e.g. last week's); now when omitted. LIVE_SESSION: the session that had started by then." }) at?: Date | null,
  ): Promise<TopGifter[]> {
    const n = leaderboardSize(first);
    const scope = at == null ? await ctx.services.leaderboards.scopeForCreator(creator.id, period) : await boardScope(ctx.services.creators.dataSource, creator.id, period, boardMoment(at), true);
    if (!scope) return [];
    return (await ctx.loaders.leaderboard.load({ hostId: creator.id, scope, first: n })).map(TopGifter.from);
  }

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

  @Directive('@tag(name: "internal")')
  @FieldResolver(() => Int, {
    nullable: true,
    description: "The creator's revenue share now, in basis points (5000 = 50%). Only the creator and admins: anyone else gets null here with a FORBIDDEN error, the creator stands.",
  })
  async revenueShareBps(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<number> {
    requireSelfOrAdmin(ctx.user, creator.id);
    return ctx.services.shares.current(creator.id);
  }

  @Directive('@tag(name: "internal")')
  @FieldResolver(() => [RevenueShare], {
    nullable: true,
    description: "Every revenue-share override, oldest first (none: the default 50% applies). Only the creator and admins: anyone else gets null here with a FORBIDDEN error, the creator stands.",
  })
  async revenueShareHistory(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<RevenueShare[]> {
    requireSelfOrAdmin(ctx.user, creator.id);
    return (await ctx.services.shares.history(creator.id)).map((h) => Object.assign(new RevenueShare(), h));
  }
}

@Resolver(() => LiveSession)
export class LiveSessionLeaderboardResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => [TopGifter], { description: "The viewers who spent the most coins on gifts in this session." })
  async topGifters(
    @Root() session: LiveSession,
    @Ctx() ctx: EarningsContext,
    @Arg("first", () => Int, { nullable: true, defaultValue: 10, description: "How many places, 1 to 100." }) first: number,
  ): Promise<TopGifter[]> {
    const rows = await ctx.loaders.leaderboard.load({ hostId: session.hostId, scope: sessionScope(session.id), first: leaderboardSize(first) });
    return rows.map(TopGifter.from);
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

  @Directive('@tag(name: "internal")')
  @Mutation(() => SetRevenueSharePayload, { description: "Admin: set a creator's revenue share from now (or a future moment) on. Gifts already sent keep their share." })
  async setRevenueShare(@Ctx() ctx: EarningsContext, @Arg("input", () => SetRevenueShareInput, { description: "What to do; each field is described on the input type." }) input: SetRevenueShareInput): Promise<SetRevenueSharePayload> {
    const admin = requireRole(ctx.user, "admin");
    return withUserErrors(async () => ({
      history: (await ctx.services.shares.set(admin, input.creatorId, input.shareBps, input.effectiveFrom ?? null, input.reason ?? "")).map((h) => Object.assign(new RevenueShare(), h)),
    })) as Promise<SetRevenueSharePayload>;
  }
}
