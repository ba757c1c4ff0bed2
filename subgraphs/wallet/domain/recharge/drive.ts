import { logger } from "../../../../platform/logger.js";
import { ProviderRejected, type ProviderPayment } from "../payments/provider.js";
import { readOrder } from "./orders.js";
import { applyPayment, fail } from "./settle.js";
import type { OrderView, PaymentMethod, RechargeCore } from "./types.js";

/** Driving a PROCESSING order through the provider, and waiting for one another request drives. */

/** How often a waiter looks at the order again (a twin on another instance sends no in-process signal). */
const POLL_MS = 100;

/**
 * Calls the provider for a PROCESSING order (idempotency key `order:<id>`, outside any
 * transaction) and applies the answer. A refusal fails the order; an unknown outcome leaves it
 * PROCESSING for a retry with the same key or the reconciler.
 */
export async function drive(core: RechargeCore, orderId: string, customerId: string, method: PaymentMethod): Promise<void> {
  const [o] = await core.dataSource.query(`SELECT amount_minor, currency FROM wallet.recharge_orders WHERE id = $1`, [orderId]);
  let payment: ProviderPayment;
  try {
    payment = await core.provider.createPayment({
      idempotencyKey: `order:${orderId}`,
      orderId,
      customerId,
      amountMinor: Number(o.amount_minor),
      currency: o.currency.trim(),
      method,
    });
  } catch (e) {
    await refusedOrUnknown(core, orderId, e);
    return;
  }
  await applyPayment(core, orderId, payment, "api");
}

async function refusedOrUnknown(core: RechargeCore, orderId: string, e: unknown): Promise<void> {
  if (e instanceof ProviderRejected) {
    await core.dataSource.transaction((m) => fail(m, orderId, e.code, "api"));
  } else {
    // Outcome unknown: the order stays PROCESSING; a retry with the same key or the reconciler resolves it.
    logger.warn({ orderId, err: e instanceof Error ? e.message : String(e) }, "payment provider call failed; order left PROCESSING");
  }
  core.inFlight.settled(orderId);
}

/**
 * A duplicate of an in-flight request waits for the original (at most `inFlightWaitMs`, then
 * answers the order as it is); an interrupted one (PROCESSING for `staleProcessingMs`) is
 * re-driven — the provider call is idempotent.
 */
export async function awaitOrResume(core: RechargeCore, orderId: string, customerId: string, method: PaymentMethod): Promise<OrderView> {
  const deadline = Date.now() + core.inFlightWaitMs;
  for (;;) {
    const order = (await readOrder(core.dataSource, orderId))!;
    if (order.status !== "PROCESSING") return order;
    if (Date.now() - new Date(order.updatedAt).getTime() > core.staleProcessingMs) {
      await drive(core, orderId, customerId, method);
      return (await readOrder(core.dataSource, orderId))!;
    }
    const left = deadline - Date.now();
    if (left <= 0) return order;
    // Polling covers a twin running on another instance; the signal covers this one at once.
    await core.inFlight.waitSettled(orderId, Math.min(left, POLL_MS));
  }
}
