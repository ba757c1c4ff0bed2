import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { requireSelfOrAdmin } from "../../../platform/auth.js";
import { EntryType } from "../domain/ledger.js";
import type { TransactionView } from "../domain/history.js";
import type { OrderView } from "../domain/recharge.js";
import { Wallet } from "./user.js";
import { RechargeOrder } from "./recharge.js";
import type { WalletContext } from "./context.js";

/** The wallet's ledger history (`Wallet.transactions`) and the recharge order behind a line; PageInfo is shared with recharge-orders.ts. */
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

@Resolver(() => Wallet)
export class WalletTransactionsResolver {
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
}

const ORDER_ENTRY_TYPES = new Set<EntryType>([EntryType.RECHARGE, EntryType.BONUS, EntryType.REFUND, EntryType.CHARGEBACK, EntryType.DEBT_REPAID]);
/** Built in the request context (index.ts): every history line's order in one query. */
export function orderLoader(ctx: Pick<WalletContext, "services">): DataLoader<string, OrderView | null> {
  return new DataLoader((ids: readonly string[]) => ctx.services.recharge.ordersByIds(ids));
}

@Resolver(() => WalletTransaction)
export class WalletTransactionOrderResolver {
  @FieldResolver(() => RechargeOrder, {
    nullable: true,
    description: "The recharge order behind a RECHARGE, BONUS, REFUND, CHARGEBACK or DEBT_REPAID entry (e.g. to show the price paid); null for other entries.",
  })
  async rechargeOrder(@Root() entry: WalletTransaction & { userId?: string }, @Ctx() ctx: WalletContext): Promise<RechargeOrder | null> {
    if (!ORDER_ENTRY_TYPES.has(entry.type) || !entry.reference) return null;
    const order = await ctx.loaders.order.load(entry.reference);
    // The entry was already authorized with its wallet; the order must belong to the same user.
    if (!order || (entry.userId && order.userId !== entry.userId)) return null;
    return RechargeOrder.from(order, ctx.user?.roles.includes("admin") ?? false);
  }
}
