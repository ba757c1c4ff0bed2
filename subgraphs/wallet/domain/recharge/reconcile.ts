import { logger } from "../../../../platform/logger.js";
import type { ProviderPayment } from "../payments/provider.js";
import { applyPayment } from "./settle.js";
import type { OrderStatus, RechargeCore } from "./types.js";

/**
 * Safety net for lost webhooks and interrupted calls: asks the provider about orders that have
 * waited too long and applies what it says. Run periodically by the background job (services.ts startWalletBackground).
 */

/** At most this many orders per run, the longest-waiting first. */
const RECONCILE_BATCH = 100;

interface Waiting {
  id: string;
  provider_payment_id: string | null;
  status: OrderStatus;
  abandoned: boolean;
}

/** The open statuses (transitions.ts OPEN_STATUSES), spelled out so the statement stays fixed. */
export const WAITING_SQL = `SELECT id, provider_payment_id, status, created_at < now() - make_interval(secs => $2::float8 / 1000) AS abandoned FROM wallet.recharge_orders
  WHERE status IN ('PROCESSING', 'PENDING', 'REQUIRES_ACTION') AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
  ORDER BY updated_at LIMIT ${RECONCILE_BATCH}`;

/** Still open at the provider: to the back of the queue, so one stuck order cannot starve the rest. */
export const REQUEUE_SQL = `UPDATE wallet.recharge_orders SET updated_at = now() WHERE id = $1 AND status IN ('PENDING', 'REQUIRES_ACTION')`;

/** Returns how many orders the provider's answer decided. */
export async function reconcileOrders(core: RechargeCore, olderThanMs: number): Promise<number> {
  const rows: Waiting[] = await core.dataSource.query(WAITING_SQL, [olderThanMs, core.abandonAfterMs]);
  let applied = 0;
  for (const r of rows) {
    if (!r.provider_payment_id) continue; // never reached the provider: a client retry with the same key re-drives it
    try {
      if (await reconcileOne(core, r, r.provider_payment_id)) applied++;
    } catch (e) {
      logger.warn({ orderId: r.id, err: e instanceof Error ? e.message : String(e) }, "reconcile failed");
    }
  }
  return applied;
}

async function reconcileOne(core: RechargeCore, r: Waiting, paymentId: string): Promise<boolean> {
  const p = await askProvider(core, r, paymentId);
  if (p && (p.status === "succeeded" || p.status === "failed")) {
    await applyPayment(core, r.id, p, "reconciler");
    return true;
  }
  await core.dataSource.query(REQUEUE_SQL, [r.id]);
  return false;
}

/** A 3-D Secure challenge nobody finished is cancelled at the provider (which may answer that it succeeded after all). */
function askProvider(core: RechargeCore, r: Waiting, paymentId: string): Promise<ProviderPayment | null> {
  return r.status === "REQUIRES_ACTION" && r.abandoned ? core.provider.cancelPayment(paymentId) : core.provider.retrievePayment(paymentId);
}
