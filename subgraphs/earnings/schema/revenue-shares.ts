import { Arg, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root } from "type-graphql";
import { requireRole, requireSelfOrAdmin } from "../../../platform/auth.js";
import { UserError, withUserErrors } from "../../../platform/errors.js";
import type { EarningsContext } from "./context.js";
import { Creator } from "./creator.js";

/** Revenue shares: `Creator.revenueShareBps` / `revenueShareHistory` and the admin's setRevenueShare. */
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

@Directive('@tag(name: "internal")')
@ObjectType({ description: "Result of setRevenueShare." })
export class SetRevenueSharePayload {
  @Field(() => [RevenueShare], { nullable: true, description: "The creator's full override history after the change." })
  history: RevenueShare[] | null;

  @Field(() => [UserError], { description: "Business failures; empty on success." })
  userErrors: UserError[];
}

@Resolver(() => Creator)
export class CreatorRevenueShareResolver {
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

@Resolver()
export class RevenueShareResolver {
  @Directive('@tag(name: "internal")')
  @Mutation(() => SetRevenueSharePayload, { description: "Admin: set a creator's revenue share from now (or a future moment) on. Gifts already sent keep their share." })
  async setRevenueShare(@Ctx() ctx: EarningsContext, @Arg("input", () => SetRevenueShareInput, { description: "What to do; each field is described on the input type." }) input: SetRevenueShareInput): Promise<SetRevenueSharePayload> {
    const admin = requireRole(ctx.user, "admin");
    return withUserErrors(async () => ({
      history: (await ctx.services.shares.set(admin, input.creatorId, input.shareBps, input.effectiveFrom ?? null, input.reason ?? "")).map((h) => Object.assign(new RevenueShare(), h)),
    })) as Promise<SetRevenueSharePayload>;
  }
}
