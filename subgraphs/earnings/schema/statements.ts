import { Arg, Ctx, Directive, Field, FieldResolver, Int, ObjectType, Resolver, Root } from "type-graphql";
import { requireSelfOrAdmin } from "../../../platform/auth.js";
import { Money, money } from "../../../platform/money.js";
import { statementCsv, type SourceLine, type Statement } from "../domain/statements.js";
import type { EarningsContext } from "./context.js";
import { Creator } from "./creator.js";

@Directive('@tag(name: "internal")')
@ObjectType({ description: "Diamonds earned from one source in the month." })
export class StatementSource {
  @Field(() => Int, { description: "Gifts received (quantity 10 counts 10)." })
  gifts: number;

  @Field(() => Int, { description: "Coins viewers spent on those gifts." })
  coins: number;

  @Field(() => Int, { description: "Diamonds credited for them: floor(coins × revenue share) per gift." })
  diamonds: number;
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "Coins and diamonds of the month earned at one revenue share." })
export class StatementShare {
  @Field(() => Int, { description: "Revenue share in basis points (5000 = 50%)." })
  shareBps: number;

  @Field(() => Int, { description: "Coins received at this share." })
  coins: number;

  @Field(() => Int, { description: "Diamonds credited at this share." })
  diamonds: number;
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "Payouts completed (PAID) in the month." })
export class StatementPayouts {
  @Field(() => Int, { description: "How many." })
  count: number;

  @Field(() => Int, { description: "Diamonds they cashed out." })
  diamonds: number;

  @Field(() => Money, { description: "Money sent (0.005 USD per diamond)." })
  amount: Money;

  @Field(() => Money, { description: "What the payout provider charged for the transfers (0 when the provider charges none)." })
  fees: Money;
}

@Directive('@tag(name: "internal")')
@ObjectType({
  description:
    "A creator's earnings statement for one UTC month, every figure a sum of the diamonds ledger: openingDiamonds + earnedDiamonds − reservedDiamonds + returnedDiamonds + adjustmentDiamonds = closingDiamonds.",
})
export class EarningsStatement {
  @Field({ description: "The month, YYYY-MM (UTC)." })
  month: string;

  @Field(() => Date, { description: "First instant of the month (inclusive)." })
  from: Date;

  @Field(() => Date, { description: "First instant of the next month (exclusive)." })
  until: Date;

  @Field({ description: "False for the current month: figures to date." })
  complete: boolean;

  @Field(() => Int, { description: "Diamond balance brought forward from the previous month." })
  openingDiamonds: number;

  @Field(() => StatementSource, { description: "Earned from gifts sent during live sessions." })
  liveSessions: StatementSource;

  @Field(() => StatementSource, { description: "Earned from gifts sent outside a live session (on videos and the profile)." })
  videos: StatementSource;

  @Field(() => Int, { description: "Diamonds credited beyond the per-gift sums (rounding remainders carried per creator); 0 when none." })
  roundingDiamonds: number;

  @Field(() => Int, { description: "All diamonds credited in the month (= liveSessions + videos + rounding = the month's GIFTS ledger entries)." })
  earnedDiamonds: number;

  @Field(() => [StatementShare], { description: "The revenue share applied: coins and diamonds per share in force when the gifts were sent." })
  revenueShares: StatementShare[];

  @Field(() => Int, { description: "Diamonds reserved by payout requests in the month." })
  reservedDiamonds: number;

  @Field(() => Int, { description: "Diamonds returned by payouts that failed or were canceled in the month." })
  returnedDiamonds: number;

  @Field(() => Int, { description: "Admin adjustments in the month (signed)." })
  adjustmentDiamonds: number;

  @Field(() => Int, { description: "Diamond balance carried into the next month (the ledger's balance at month end)." })
  closingDiamonds: number;

  @Field(() => StatementPayouts, { description: "Payouts PAID in the month, their money and fees." })
  payoutsPaid: StatementPayouts;

  @Field(() => Int, { description: "Diamonds in payouts requested but not yet PAID, FAILED or CANCELED at month end." })
  pendingPayoutDiamonds: number;
}

const source = (s: SourceLine) => Object.assign(new StatementSource(), s);

function view(s: Statement): EarningsStatement {
  return Object.assign(new EarningsStatement(), {
    ...s,
    from: new Date(s.from),
    until: new Date(s.until),
    liveSessions: source(s.liveSessions),
    videos: source(s.videos),
    revenueShares: s.shares.map((x) => Object.assign(new StatementShare(), x)),
    payoutsPaid: Object.assign(new StatementPayouts(), {
      count: s.payoutsPaid.count,
      diamonds: s.payoutsPaid.diamonds,
      amount: money(s.payoutsPaid.amountMinor, s.payoutsPaid.currency),
      fees: money(s.payoutsPaid.feesMinor, s.payoutsPaid.currency),
    }),
  });
}

@Resolver(() => Creator)
export class CreatorStatementResolver {
  @Directive('@tag(name: "internal")')
  @FieldResolver(() => EarningsStatement, { description: "The earnings statement of a UTC month (the creator and admins; FORBIDDEN otherwise). Malformed or future month: BAD_USER_INPUT." })
  async statements(@Root() c: Creator, @Arg("month", { description: "YYYY-MM, e.g. 2031-01." }) month: string, @Ctx() ctx: EarningsContext): Promise<EarningsStatement> {
    requireSelfOrAdmin(ctx.user, c.id);
    return view(await ctx.services.statements.statement(c.id, month));
  }

  @Directive('@tag(name: "internal")')
  @FieldResolver(() => String, { description: "The same statement as CSV text (RFC 4180, CRLF; integers only: diamonds, money in minor units with its currency) for the studio's export. The creator and admins." })
  async statementCsv(@Root() c: Creator, @Arg("month", { description: "YYYY-MM, e.g. 2031-01." }) month: string, @Ctx() ctx: EarningsContext): Promise<string> {
    requireSelfOrAdmin(ctx.user, c.id);
    return statementCsv(await ctx.services.statements.statement(c.id, month));
  }
}
