import type { EntityManager } from "typeorm";
import { logger } from "../../../../platform/logger.js";
import type { WebhookEvent } from "../payments/provider.js";
import { isUuid } from "./orders.js";
import { fail, reverse, succeed } from "./settle.js";
import { WEBHOOK_EVENTS, isOpen } from "./transitions.js";
import type { RechargeCore } from "./types.js";

/** Provider webhooks (verified by the route in transport/payment-webhook.ts): each event id is applied once. */

export interface WebhookOutcome {
  outcome: string;
  duplicate: boolean;
}

/** Applies a verified provider event exactly once (by event id); redeliveries are acknowledged. Returns the outcome recorded for the event. */
export async function applyWebhook(core: RechargeCore, event: WebhookEvent): Promise<WebhookOutcome> {
  const result = await core.dataSource.transaction(async (m) => {
    const inserted = await m.query(
      `INSERT INTO wallet.payment_webhook_events (id, type, payment_id, outcome, payload) VALUES ($1, $2, $3, 'received', $4)
       ON CONFLICT (id) DO NOTHING RETURNING id`,
      [event.id, event.type, event.data.paymentId, JSON.stringify(event)],
    );
    if (inserted.length === 0) return { outcome: "duplicate", duplicate: true, orderId: null as string | null };
    const outcome = await applyEvent(m, event);
    await m.query(`UPDATE wallet.payment_webhook_events SET outcome = $2 WHERE id = $1`, [event.id, outcome.outcome]);
    return { ...outcome, duplicate: false };
  });
  if (result.orderId) core.inFlight.settled(result.orderId);
  return { outcome: result.outcome, duplicate: result.duplicate };
}

async function applyEvent(m: EntityManager, event: WebhookEvent): Promise<{ outcome: string; orderId: string | null }> {
  const o = await orderOfPayment(m, event);
  if (!o) {
    logger.warn({ eventId: event.id, paymentId: event.data.paymentId }, "webhook for an unknown payment");
    return { outcome: "unknown_payment", orderId: null };
  }
  if (!matchesOrder(event, o)) {
    logger.error({ eventId: event.id, orderId: o.id }, "webhook amount/currency does not match the order; not applied");
    return { outcome: "amount_mismatch", orderId: o.id };
  }
  const changed = await applyRule(m, o, event);
  return { outcome: changed === null ? "ignored_type" : changed ? "applied" : "no_change", orderId: o.id };
}

/** The event the webhook means, applied to the order; null for a type this wallet does not act on. */
async function applyRule(m: EntityManager, o: PaidOrder, event: WebhookEvent): Promise<boolean | null> {
  const rule = Object.hasOwn(WEBHOOK_EVENTS, event.type) ? WEBHOOK_EVENTS[event.type] : null;
  switch (rule?.on) {
    case "succeeded":
      return succeed(m, o.id, "webhook");
    case "failed":
      return fail(m, o.id, event.data.failureCode ?? "async_payment_failed", "webhook");
    case "refunded":
    case "charged_back":
      if (rule.succeededFirst && isOpen(o.status)) await succeed(m, o.id, "webhook");
      return reverse(m, o.id, rule.on, rule.reason!, "webhook");
    default:
      return null;
  }
}

interface PaidOrder {
  id: string;
  status: string;
  amount_minor: string;
  currency: string;
}

/** Our own createPayment answer may not be stored yet: the provider echoes the order id, so bind the payment to it. */
async function orderOfPayment(m: EntityManager, event: WebhookEvent): Promise<PaidOrder | null> {
  const { paymentId, orderId } = event.data;
  if (orderId && isUuid(orderId)) {
    await m.query(`UPDATE wallet.recharge_orders SET provider_payment_id = $2 WHERE id = $1 AND provider_payment_id IS NULL`, [orderId, paymentId]);
  }
  const [o] = await m.query(`SELECT id, status, amount_minor, currency FROM wallet.recharge_orders WHERE provider_payment_id = $1`, [paymentId]);
  return o ?? null;
}

function matchesOrder(event: WebhookEvent, o: PaidOrder): boolean {
  const { amountMinor, currency } = event.data;
  return (amountMinor === undefined || amountMinor === Number(o.amount_minor)) && (currency === undefined || currency === o.currency.trim());
}
