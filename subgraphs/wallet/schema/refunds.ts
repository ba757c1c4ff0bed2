import DataLoader from "dataloader";
import { Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { Money, money } from "../../../platform/money.js";
import { RefundService, type RefundView } from "../domain/refunds.js";
import { RechargeOrder } from "./recharge.js";
import type { WalletContext } from "./context.js";

export enum RechargeRefundStatus {
  PENDING = "PENDING",
  SUCCEEDED = "SUCCEEDED",
  FAILED = "FAILED",
}
registerEnumType(RechargeRefundStatus, {
  name: "RechargeRefundStatus",
  description: "PENDING: reserved, the provider's answer not applied yet (repeating the same refund finishes it); SUCCEEDED: money returned and coins taken back; FAILED: the provider refused, nothing changed.",
});

@ObjectType({ description: "One refund (full or partial) of a recharge order." })
export class RechargeRefund {
  @Field(() => ID, { description: "Refund id." })
  id: string;

  @Field(() => Money, { description: "Money returned to the buyer." })
  amount: Money;

  @Field(() => RechargeRefundStatus, { description: "Where the refund stands." })
  status: RechargeRefundStatus;

  @Field(() => Int, { nullable: true, description: "Coins taken back from the balance by this refund (its proportional share, bonus included)." })
  coinsReversed: number | null;

  @Field(() => Int, { nullable: true, description: "Part of this refund's share that was already spent, recorded as debt." })
  debtRecorded: number | null;

  @Field(() => Date, { description: "When the refund was requested." })
  createdAt: Date;

  @Field(() => Date, { nullable: true, description: "When it SUCCEEDED or FAILED." })
  completedAt: Date | null;

  @Directive('@tag(name: "internal")')
  @Field(() => String, { nullable: true, description: "Operator's reason and who refunded. Admins only; null for everyone else." })
  reason: string | null;
}

function view(r: RefundView, order: RechargeOrder, admin: boolean): RechargeRefund {
  return Object.assign(new RechargeRefund(), {
    id: r.id,
    amount: money(r.amountMinor, r.currency, order.locale),
    status: r.status as RechargeRefundStatus,
    coinsReversed: r.coinsReversed,
    debtRecorded: r.debtRecorded,
    createdAt: new Date(r.createdAt),
    completedAt: r.completedAt ? new Date(r.completedAt) : null,
    reason: admin ? `${r.reason} (by ${r.actor})` : null,
  });
}

/** Built in the request context (index.ts): every order's refunds in one query. */
export function refundsLoader(ctx: Pick<WalletContext, "services">): DataLoader<string, RefundView[]> {
  const service = new RefundService(ctx.services.recharge.dataSource, ctx.services.recharge.provider, (id) => ctx.services.recharge.order(id));
  return new DataLoader<string, RefundView[]>((ids) => service.byOrders(ids));
}

@Resolver(() => RechargeOrder)
export class RechargeOrderRefundsResolver {
  @FieldResolver(() => [RechargeRefund], { description: "The order's refunds, oldest first (batched across orders)." })
  async refunds(@Root() o: RechargeOrder, @Ctx() ctx: WalletContext): Promise<RechargeRefund[]> {
    const admin = ctx.user?.roles.includes("admin") ?? false;
    return (await ctx.loaders.refunds.load(o.id)).map((r) => view(r, o, admin));
  }
}
