import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { requireSelfOrAdmin, requireUser } from "../../../platform/auth.js";
import { UserError, badInput, withUserErrors } from "../../../platform/errors.js";
import { Money, money } from "../../../platform/money.js";
import { EntryType } from "../domain/ledger.js";
import type { LimitPeriod } from "../domain/limits.js";
import type { SpendingLimitView } from "../domain/spending-limit.js";
import type { TransactionView } from "../domain/history.js";
import { Wallet } from "./user.js";
import { RechargeOrder, RechargeStatus } from "./recharge.js";
import type { OrderStatus, OrderView } from "../domain/recharge.js";
import type { WalletContext } from "./context.js";

registerEnumType(EntryType, {
  name: "TransactionType",
  description: "What moved the coins.",
  valuesConfig: {
    RECHARGE: { description: "Coins bought (reference: the recharge order)." },
    BONUS: { description: "Promotion bonus coins with a recharge (reference: the order)." },
    GIFT_SENT: { description: "Coins spent on a gift (reference: the gift event)." },
    REFUND: { description: "A refunded recharge took back its unspent coins; any rest became debt (reference: the order)." },
    CHARGEBACK: { description: "A disputed recharge took back its unspent coins; any rest became debt (reference: the order)." },
    DEBT_REPAID: { description: "New coins repaid debt from an earlier refund or chargeback (reference: the order that repaid it)." },
  },
});

export enum SpendingLimitPeriod {
  DAY = "DAY",
  WEEK = "WEEK",
  MONTH = "MONTH",
}
registerEnumType(SpendingLimitPeriod, { name: "SpendingLimitPeriod", description: "Rolling window of a spending limit: 24 hours, 7 days or 30 days." });

@ObjectType({ description: "One ledger entry of the wallet. Entries are never changed or deleted." })
export class WalletTransaction {
  @Field(() => ID, { description: "Entry id; grows over time." })
  id: string;

  @Field(() => EntryType, { description: "What moved the coins." })
  type: EntryType;

  @Field(() => Int, { description: "Signed coins: positive credited, negative debited." })
  amount: number;

  @Field(() => Int, { description: "Spendable coins right after this entry." })
  balanceAfter: number;

  @Field(() => Int, { description: "Signed change of debt (+ recorded by a refund/chargeback, − repaid)." })
  debtChange: number;

  @Field(() => Int, { description: "Debt right after this entry." })
  debtAfter: number;

  @Field(() => String, { nullable: true, description: "The recharge order id or gift event id behind the entry." })
  reference: string | null;

  @Field(() => Date, { description: "When the entry was written." })
  createdAt: Date;

  static from(t: TransactionView): WalletTransaction {
    return Object.assign(new WalletTransaction(), { ...t, createdAt: new Date(t.createdAt) });
  }
}

@Directive("@shareable")
@ObjectType({ description: "Relay pagination state." })
export class PageInfo {
  @Field({ description: "More items after this page." })
  hasNextPage: boolean;

  @Field({ description: "This page was requested with a cursor (there are items before it)." })
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true, description: "Cursor of the first edge on this page." })
  startCursor: string | null;

  @Field(() => String, { nullable: true, description: "Cursor of the last edge on this page; pass as `after` for the next page." })
  endCursor: string | null;
}

@ObjectType({ description: "An edge of the transaction history." })
export class WalletTransactionEdge {
  @Field({ description: "Opaque; pass as `after` to continue after this entry." })
  cursor: string;

  @Field(() => WalletTransaction, { description: "The ledger entry." })
  node: WalletTransaction;
}

@ObjectType({ description: "The wallet's ledger, newest first." })
export class WalletTransactionConnection {
  @Field(() => [WalletTransactionEdge], { description: "Entries on this page, newest first." })
  edges: WalletTransactionEdge[];

  @Field(() => PageInfo, { description: "Pagination state." })
  pageInfo: PageInfo;
}

@ObjectType({ description: "An edge of the caller's recharge orders." })
export class RechargeOrderEdge {
  @Field({ description: "Opaque; pass as `after` to continue after this order." })
  cursor: string;

  @Field(() => RechargeOrder, { description: "The order." })
  node: RechargeOrder;
}

@ObjectType({ description: "Recharge orders, newest first." })
export class RechargeOrderConnection {
  @Field(() => [RechargeOrderEdge], { description: "Orders on this page, newest first." })
  edges: RechargeOrderEdge[];

  @Field(() => PageInfo, { description: "Pagination state." })
  pageInfo: PageInfo;
}

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
export class WalletPurchaseResolver {
  @FieldResolver(() => WalletTransactionConnection, { description: "The ledger, newest first. `type` filters to one kind of entry." })
  async transactions(
    @Root() wallet: Wallet,
    @Ctx() ctx: WalletContext,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1..100 (default 20)." }) first: number | null,
    @Arg("after", () => String, { nullable: true, description: "Continue after this cursor (an edge's cursor or pageInfo.endCursor)." }) after: string | null,
    @Arg("type", () => EntryType, { nullable: true, description: "Only entries of this type." }) type: EntryType | null,
  ): Promise<WalletTransactionConnection> {
    requireSelfOrAdmin(ctx.user, wallet.userId);
    const page = await ctx.services.history.page(wallet.userId, { first, after, type });
    const edges = page.edges.map((e) => Object.assign(new WalletTransactionEdge(), { cursor: e.cursor, node: Object.assign(WalletTransaction.from(e.node), { userId: wallet.userId }) }));
    return Object.assign(new WalletTransactionConnection(), {
      edges,
      pageInfo: Object.assign(new PageInfo(), {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: after !== null && after !== undefined,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: page.endCursor,
      }),
    });
  }

  @FieldResolver(() => RechargeOrderConnection, { description: "Purchases of coins, newest first (a purchases screen; pending orders to resume)." })
  async rechargeOrders(
    @Root() wallet: Wallet,
    @Ctx() ctx: WalletContext,
    @Arg("first", () => Int, { nullable: true, description: "Page size, 1..100 (default 20)." }) first: number | null,
    @Arg("after", () => String, { nullable: true, description: "Continue after this cursor." }) after: string | null,
    @Arg("status", () => RechargeStatus, { nullable: true, description: "Only orders in this status." }) status: RechargeStatus | null,
  ): Promise<RechargeOrderConnection> {
    requireSelfOrAdmin(ctx.user, wallet.userId);
    const page = await ctx.services.recharge.listOrders(wallet.userId, { first, after, status: status as OrderStatus | null });
    const admin = ctx.user?.roles.includes("admin") ?? false;
    const edges = page.orders.map((o, i) => Object.assign(new RechargeOrderEdge(), { cursor: page.cursors[i], node: RechargeOrder.from(o, admin) }));
    return Object.assign(new RechargeOrderConnection(), {
      edges,
      pageInfo: Object.assign(new PageInfo(), {
        hasNextPage: page.hasNextPage,
        hasPreviousPage: after !== null && after !== undefined,
        startCursor: edges[0]?.cursor ?? null,
        endCursor: edges[edges.length - 1]?.cursor ?? null,
      }),
    });
  }

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

const ORDER_ENTRY_TYPES = new Set<EntryType>([EntryType.RECHARGE, EntryType.BONUS, EntryType.REFUND, EntryType.CHARGEBACK, EntryType.DEBT_REPAID]);
/** One loader per request context: every history line's order in one query. */
const orderLoaders = new WeakMap<object, DataLoader<string, OrderView | null>>();
function orderLoader(ctx: WalletContext): DataLoader<string, OrderView | null> {
  let l = orderLoaders.get(ctx);
  if (!l) {
    l = new DataLoader((ids: readonly string[]) => ctx.services.recharge.ordersByIds(ids));
    orderLoaders.set(ctx, l);
  }
  return l;
}

@Resolver(() => WalletTransaction)
export class WalletTransactionOrderResolver {
  @FieldResolver(() => RechargeOrder, {
    nullable: true,
    description: "The recharge order behind a RECHARGE, BONUS, REFUND, CHARGEBACK or DEBT_REPAID entry (e.g. to show the price paid); null for other entries.",
  })
  async rechargeOrder(@Root() entry: WalletTransaction & { userId?: string }, @Ctx() ctx: WalletContext): Promise<RechargeOrder | null> {
    if (!ORDER_ENTRY_TYPES.has(entry.type) || !entry.reference) return null;
    const order = await orderLoader(ctx).load(entry.reference);
    // The entry was already authorized with its wallet; the order must belong to the same user.
    if (!order || (entry.userId && order.userId !== entry.userId)) return null;
    return RechargeOrder.from(order, ctx.user?.roles.includes("admin") ?? false);
  }
}
