import { Arg, Ctx, Field, FieldResolver, InputType, Int, Mutation, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { requireSelfOrAdmin, requireUser } from "../../../platform/auth.js";
import { UserError, badInput, withUserErrors } from "../../../platform/errors.js";
import { Money, money } from "../../../platform/money.js";
import type { LimitPeriod } from "../domain/recharge-limits.js";
import type { SpendingLimitView } from "../domain/spending-limit-settings.js";
import { Wallet } from "./user.js";
import type { WalletContext } from "./context.js";

/** The viewer's own spending limit: `Wallet.spendingLimit` and `setSpendingLimit`. */
export enum SpendingLimitPeriod {
  DAY = "DAY",
  WEEK = "WEEK",
  MONTH = "MONTH",
}
registerEnumType(SpendingLimitPeriod, { name: "SpendingLimitPeriod", description: "Rolling window of a spending limit: 24 hours, 7 days or 30 days." });

@ObjectType({ description: "A change to the spending limit that is waiting out its cooling-off period." })
export class PendingSpendingLimit {
  @Field(() => SpendingLimitPeriod, { nullable: true, description: "The new period; null when the change removes the limit." })
  period: SpendingLimitPeriod | null;

  @Field(() => Money, { nullable: true, description: "The new amount; null when the change removes the limit." })
  amount: Money | null;

  @Field({ description: "True when the change removes the limit." })
  removes: boolean;

  @Field(() => Date, { description: "When the change takes effect." })
  effectiveAt: Date;
}

@ObjectType({ description: "The viewer's own cap on money spent on coins in a rolling window." })
export class SpendingLimit {
  @Field(() => SpendingLimitPeriod, { description: "Rolling window the cap applies to." })
  period: SpendingLimitPeriod;

  @Field(() => Money, { description: "The cap, in the currency of the viewer's region when it was set." })
  amount: Money;

  @Field(() => Money, { description: "Spent in the current window (pending and completed orders; refunds do not give room back)." })
  spent: Money;

  @Field(() => Money, { description: "What can still be spent in the current window." })
  remaining: Money;

  @Field(() => PendingSpendingLimit, { nullable: true, description: "A raise or removal waiting 24 hours before it applies; lowering applies at once." })
  pending: PendingSpendingLimit | null;

  static from(v: SpendingLimitView): SpendingLimit {
    return Object.assign(new SpendingLimit(), {
      period: v.period as SpendingLimitPeriod,
      amount: money(v.amountMinor, v.currency, v.locale),
      spent: money(v.spentMinor, v.currency, v.locale),
      remaining: money(v.remainingMinor, v.currency, v.locale),
      pending: v.pending
        ? Object.assign(new PendingSpendingLimit(), {
            period: v.pending.period,
            amount: v.pending.amountMinor !== null && v.pending.currency ? money(v.pending.amountMinor, v.pending.currency, v.locale) : null,
            removes: v.pending.removes,
            effectiveAt: new Date(v.pending.effectiveAt),
          })
        : null,
    });
  }
}

@InputType({ description: "Set, lower, raise or remove (both fields null) the caller's spending limit. The amount is in the currency of the caller's region." })
export class SetSpendingLimitInput {
  @Field(() => SpendingLimitPeriod, { nullable: true, description: "The new period; with amountMinor, or both null to remove the limit." })
  period?: SpendingLimitPeriod | null;

  @Field(() => Int, { nullable: true, description: "Minor units (cents; whole yen for JPY). 0 blocks all purchases." })
  amountMinor?: number | null;
}

@ObjectType({ description: "Result of setSpendingLimit." })
export class SetSpendingLimitPayload {
  @Field(() => SpendingLimit, { nullable: true, description: "The limit in force now (null: none), with any pending change." })
  spendingLimit: SpendingLimit | null;

  @Field({ description: "True when the change was a raise or removal and only takes effect after the cooling-off period." })
  deferred: boolean;

  @Field(() => [UserError], { description: "Business failures (INVALID_INPUT); nothing changed when present." })
  userErrors: UserError[];
}

@Resolver(() => Wallet)
export class WalletSpendingLimitResolver {
  @FieldResolver(() => SpendingLimit, { nullable: true, description: "The viewer's own spending limit; null when none is set." })
  async spendingLimit(@Root() wallet: Wallet, @Ctx() ctx: WalletContext): Promise<SpendingLimit | null> {
    requireSelfOrAdmin(ctx.user, wallet.userId);
    const v = await ctx.services.spendingLimits.view(wallet.userId);
    return v && SpendingLimit.from(v);
  }
}

@Resolver()
export class SpendingLimitResolver {
  @Mutation(() => SetSpendingLimitPayload, {
    description: "Sets the caller's spending limit on coin purchases. Lowering (or setting a first limit) applies at once; raising or removing applies after 24 hours.",
  })
  async setSpendingLimit(@Arg("input", () => SetSpendingLimitInput, { description: "What to do; each field is described on the input type." }) input: SetSpendingLimitInput, @Ctx() ctx: WalletContext): Promise<SetSpendingLimitPayload> {
    const user = requireUser(ctx.user);
    const hasPeriod = input.period !== undefined && input.period !== null;
    const hasAmount = input.amountMinor !== undefined && input.amountMinor !== null;
    if (hasPeriod !== hasAmount) throw badInput("give both period and amountMinor, or neither to remove the limit", ["input"]);
    let deferred = false;
    let view: SpendingLimitView | null = null;
    const result = await withUserErrors(async () => {
      const r = await ctx.services.spendingLimits.set(user, hasPeriod ? { period: input.period as LimitPeriod, amountMinor: input.amountMinor! } : null);
      deferred = r.pendingOnly;
      view = r.view;
      return {};
    });
    return Object.assign(new SetSpendingLimitPayload(), {
      spendingLimit: result.userErrors.length === 0 && view ? SpendingLimit.from(view) : null,
      deferred,
      userErrors: result.userErrors,
    });
  }
}
