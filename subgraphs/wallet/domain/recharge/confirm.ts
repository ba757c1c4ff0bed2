import type { AuthUser } from "../../../../platform/auth.js";
import { DomainError, ErrorCode } from "../../../../platform/errors.js";
import { ProviderRejected, type ProviderPayment } from "../payments/provider.js";
import { readOrder } from "./orders.js";
import { applyPayment } from "./settle.js";
import { STATUS_RULES, shownAs } from "./transitions.js";
import type { OrderView, RechargeCore } from "./types.js";

/** confirmRecharge: the viewer finished 3-D Secure; ask the provider to complete the payment. */
export async function confirmOrder(core: RechargeCore, user: AuthUser, orderId: string): Promise<OrderView> {
  const order = await readOrder(core.dataSource, orderId);
  if (!order || order.userId !== user.id) throw new DomainError(ErrorCode.NOT_FOUND, "no such recharge order", { field: ["orderId"] });
  const rule = STATUS_RULES[order.status].onConfirm;
  if (rule === "replay") return order;
  if (rule === "refuse") throw new DomainError(ErrorCode.INVALID_STATE, `order is ${shownAs(order.status)}; nothing to confirm`, { field: ["orderId"] });
  // Only a confirmation that reaches the provider takes a token (a replay of a decided order above does not).
  await core.limiter.guard(core.dataSource, user.id, "confirmRecharge");
  const payment = await confirmAtProvider(core, orderId);
  await applyPayment(core, orderId, payment, "confirm");
  return (await readOrder(core.dataSource, orderId))!;
}

async function confirmAtProvider(core: RechargeCore, orderId: string): Promise<ProviderPayment> {
  const [row] = await core.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [orderId]);
  try {
    return await core.provider.confirmPayment(row.provider_payment_id, `confirm:${orderId}`);
  } catch (e) {
    if (e instanceof ProviderRejected) throw new DomainError(ErrorCode.PAYMENT_FAILED, "the payment provider refused the confirmation", { field: ["orderId"] });
    throw new DomainError(ErrorCode.PAYMENT_FAILED, "the payment provider is unavailable; try again", { field: ["orderId"], retryAfterSeconds: 5 });
  }
}
