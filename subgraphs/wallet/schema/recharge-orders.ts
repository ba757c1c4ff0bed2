import { Arg, Ctx, Field, FieldResolver, Int, ObjectType, Resolver, Root } from "type-graphql";
import { requireSelfOrAdmin } from "../../../platform/auth.js";
import type { OrderStatus } from "../domain/recharge.js";
import { Wallet } from "./user.js";
import { RechargeOrder, RechargeStatus } from "./recharge.js";
import { PageInfo } from "./transactions.js";
import type { WalletContext } from "./context.js";

/** The caller's recharge orders (`Wallet.rechargeOrders`), newest first: a purchases screen. */
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

@Resolver(() => Wallet)
export class WalletRechargeOrdersResolver {
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
}
