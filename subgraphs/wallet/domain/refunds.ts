import { createHash, randomUUID } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import { retryTransient } from "../../../platform/db.js";
import { DomainError, ErrorCode } from "../../../platform/errors.js";
import { logger } from "../../../platform/logger.js";
import { requestHash, validateIdempotencyKey } from "./idempotency.js";
import { EntryType, postEntry } from "./ledger.js";
import { ProviderRejected, type PaymentProvider } from "./payments/provider.js";
import type { OrderView } from "./recharge.js";
import { transitionFor } from "./recharge/transitions.js";

/**
 * Partial (and full) admin refunds of a recharge order (DECISIONS 49).
 *
 * 1. Reserve: under the order's row lock, the refund row is inserted (PENDING) and the amount is
 *    added to `refund_reserved_minor`, which a CHECK keeps ≤ the order's amount: concurrent
 *    refunds of one order serialize on that lock and can never exceed it.
 * 2. The provider refunds first, outside any transaction, idempotency key `refund:<refund id>`.
 * 3. Apply: coins are taken back in proportion to the money, computed on running totals:
 *      taken back so far = floor((coins + bonus) × refunded so far / amount paid)
 *    so every partial refund takes back a whole number of coins, the sum never exceeds what was
 *    bought, and the refund that completes the order takes back exactly the rest. Bonus coins are
 *    part of what the money bought, so they go back in the same proportion. What the balance
 *    cannot cover (coins already spent) becomes debt.
 *
 * Idempotency: a refund is keyed per order by the caller's `idempotencyKey` or, without one, by
 * (amount or "the rest", reason): the same call repeated is one refund; a second refund of the
 * same amount needs another reason or key.
 */

export type RefundStatus = "PENDING" | "SUCCEEDED" | "FAILED";

export interface RefundView {
  id: string;
  orderId: string;
  amountMinor: number;
  currency: string;
  status: RefundStatus;
  reason: string;
  actor: string;
  coinsReversed: number | null;
  debtRecorded: number | null;
  failureCode: string | null;
  createdAt: string;
  completedAt: string | null;
}

export interface RefundRequest {
  /** Minor units of the order's currency; omitted: the rest of the order. */
  amountMinor?: number | null;
  idempotencyKey?: string | null;
}

export const MAX_REFUND_REASON = 500;

/** The order's transition when its refunds reach the amount paid (recharge/transitions.ts); booked by apply() below. */
const FULLY_REFUNDED = transitionFor("SUCCEEDED", "refunds_completed")!;

/** Coins to take back when the refunded money goes from `beforeMinor` to `afterMinor` of `paidMinor`. */
export function coinsToTakeBack(totalCoins: number, paidMinor: number, beforeMinor: number, afterMinor: number): number {
  if (!(0 <= beforeMinor && beforeMinor <= afterMinor && afterMinor <= paidMinor && paidMinor > 0)) throw new Error("refund totals out of range");
  const t = BigInt(totalCoins);
  const p = BigInt(paidMinor);
  return Number((t * BigInt(afterMinor)) / p - (t * BigInt(beforeMinor)) / p);
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function toRefund(r: any): RefundView {
  return {
    id: r.id,
    orderId: r.order_id,
    amountMinor: Number(r.amount_minor),
    currency: r.currency.trim(),
    status: r.status,
    reason: r.reason,
    actor: r.actor,
    coinsReversed: r.coins_reversed === null ? null : Number(r.coins_reversed),
    debtRecorded: r.debt_recorded === null ? null : Number(r.debt_recorded),
    failureCode: r.failure_code,
    createdAt: iso(r.created_at)!,
    completedAt: iso(r.completed_at),
  };
}

export class RefundService {
  constructor(
    private readonly ds: DataSource,
    private readonly provider: PaymentProvider,
    private readonly readOrder: (id: string) => Promise<OrderView | null>,
  ) {}

  async refund(orderId: string, reasonIn: string, adminId: string, req: RefundRequest = {}): Promise<OrderView> {
    const reason = (reasonIn ?? "").trim();
    if (reason.length === 0 || reason.length > MAX_REFUND_REASON) throw new DomainError(ErrorCode.INVALID_INPUT, `reason must be 1..${MAX_REFUND_REASON} characters`, { field: ["reason"] });
    const amount = req.amountMinor ?? null;
    if (amount !== null && (!Number.isSafeInteger(amount) || amount < 1)) {
      throw new DomainError(ErrorCode.INVALID_INPUT, "amountMinor must be a positive integer in the order's minor units (omit it to refund the rest)", { field: ["amountMinor"] });
    }
    const explicitKey = req.idempotencyKey === undefined || req.idempotencyKey === null ? null : validateIdempotencyKey(req.idempotencyKey);
    const order = await this.readOrder(orderId);
    if (!order) throw new DomainError(ErrorCode.NOT_FOUND, "no such recharge order", { field: ["orderId"] });
    const hash = requestHash("refund", { amountMinor: amount, reason });
    const key = explicitKey ?? `auto:${createHash("sha256").update(`${amount ?? "rest"}\0${reason}`).digest("hex").slice(0, 40)}`;

    const reserved = await this.reserve(order, key, hash, amount, reason, adminId);
    if (reserved === null) return order; // the rest of a fully refunded order: nothing to do
    if (reserved.status === "SUCCEEDED") return (await this.readOrder(orderId))!;
    if (reserved.status === "FAILED") throw new DomainError(ErrorCode.INVALID_STATE, `this refund was refused by the payment provider (${reserved.failureCode})`, { field: ["orderId"] });

    const [row] = await this.ds.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [orderId]);
    let providerRefundId: string;
    try {
      // Same key on every retry: repeated or parallel calls are one refund at the provider.
      ({ id: providerRefundId } = await this.provider.refundPayment({ paymentId: row.provider_payment_id, idempotencyKey: `refund:${reserved.id}`, amountMinor: reserved.amountMinor, reason }));
    } catch (e) {
      if (e instanceof ProviderRejected) {
        await this.release(reserved.id, e.code);
        throw new DomainError(ErrorCode.INVALID_STATE, `the payment provider refused the refund (${e.code})`, { field: ["orderId"] });
      }
      // Outcome unknown: the refund stays PENDING (its amount reserved); repeating the same call finishes it.
      logger.warn({ orderId, refundId: reserved.id, err: e instanceof Error ? e.message : String(e) }, "provider refund failed; refund left PENDING");
      throw new DomainError(ErrorCode.PAYMENT_FAILED, "the payment provider is unavailable; repeat the same refund to finish it", { field: ["orderId"], retryAfterSeconds: 5 });
    }
    await retryTransient(() => this.ds.transaction((m) => this.apply(m, reserved.id, providerRefundId, adminId)));
    return (await this.readOrder(orderId))!;
  }

  /** Refunds of many orders, oldest first (the DataLoader behind RechargeOrder.refunds). */
  async byOrders(orderIds: readonly string[]): Promise<RefundView[][]> {
    const rows = orderIds.length ? await this.ds.query(`SELECT * FROM wallet.recharge_refunds WHERE order_id = ANY($1::uuid[]) ORDER BY created_at, id`, [[...new Set(orderIds)]]) : [];
    const by = new Map<string, RefundView[]>();
    for (const r of rows) by.set(r.order_id, [...(by.get(r.order_id) ?? []), toRefund(r)]);
    return orderIds.map((id) => by.get(id) ?? []);
  }

  /** Finds the refund for this key or reserves a new one; null when asked for "the rest" of a fully refunded order. */
  private async reserve(order: OrderView, key: string, hash: string, amount: number | null, reason: string, adminId: string): Promise<RefundView | null> {
    return this.ds.transaction(async (m) => {
      const [o] = await m.query(`SELECT status, amount_minor, refund_reserved_minor, currency FROM wallet.recharge_orders WHERE id = $1 FOR UPDATE`, [order.id]);
      const [existing] = await m.query(`SELECT * FROM wallet.recharge_refunds WHERE order_id = $1 AND idempotency_key = $2`, [order.id, key]);
      if (existing) {
        if (existing.request_hash !== hash) throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used for a different refund of this order", { field: ["idempotencyKey"] });
        return toRefund(existing);
      }
      if (o.status === "REFUNDED" && amount === null) return null; // DECISIONS 17: refunding a refunded order again is a no-op
      if (o.status !== "SUCCEEDED") throw new DomainError(ErrorCode.INVALID_STATE, `only a SUCCEEDED order can be refunded; this one is ${o.status}`, { field: ["orderId"] });
      const remaining = Number(o.amount_minor) - Number(o.refund_reserved_minor);
      const take = amount ?? remaining;
      if (take === 0) throw new DomainError(ErrorCode.INVALID_STATE, "the rest of this order is already being refunded (a PENDING refund: repeat it to finish)", { field: ["orderId"] });
      if (take > remaining) {
        throw new DomainError(ErrorCode.REFUND_EXCEEDS_ORDER, `at most ${remaining} (minor units of ${o.currency.trim()}) of this order can still be refunded`, { field: ["amountMinor"] });
      }
      const id = randomUUID();
      const [row] = await m.query(
        `INSERT INTO wallet.recharge_refunds (id, order_id, idempotency_key, request_hash, amount_minor, currency, status, reason, actor)
         VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $8) RETURNING *`,
        [id, order.id, key, hash, take, o.currency, reason, adminId],
      );
      await m.query(`UPDATE wallet.recharge_orders SET refund_reserved_minor = refund_reserved_minor + $2, updated_at = now() WHERE id = $1`, [order.id, take]);
      return toRefund(row);
    });
  }

  /** The provider refused: the refund FAILED and its amount is free again. */
  private async release(refundId: string, code: string): Promise<void> {
    await this.ds.transaction(async (m) => {
      const [r] = await m.query(`SELECT order_id FROM wallet.recharge_refunds WHERE id = $1`, [refundId]);
      await m.query(`SELECT 1 FROM wallet.recharge_orders WHERE id = $1 FOR UPDATE`, [r.order_id]);
      const done = await m.query(
        `WITH u AS (UPDATE wallet.recharge_refunds SET status = 'FAILED', failure_code = $2, completed_at = now() WHERE id = $1 AND status = 'PENDING' RETURNING amount_minor) SELECT amount_minor FROM u`,
        [refundId, code],
      );
      if (done.length) await m.query(`UPDATE wallet.recharge_orders SET refund_reserved_minor = refund_reserved_minor - $2, updated_at = now() WHERE id = $1`, [r.order_id, done[0].amount_minor]);
    });
  }

  /**
   * Takes back this refund's share of coins, exactly once (conditional on the refund being
   * PENDING). Lock order as everywhere in the wallet: the order row, then the account row.
   */
  private async apply(m: EntityManager, refundId: string, providerRefundId: string, adminId: string): Promise<void> {
    const [{ order_id: orderId }] = await m.query(`SELECT order_id FROM wallet.recharge_refunds WHERE id = $1`, [refundId]);
    const [o] = await m.query(`SELECT * FROM wallet.recharge_orders WHERE id = $1 FOR UPDATE`, [orderId]);
    await m.query(`INSERT INTO wallet.accounts (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, [o.user_id]);
    const [acct] = await m.query(`SELECT coins FROM wallet.accounts WHERE user_id = $1 FOR UPDATE`, [o.user_id]);
    const [r] = await m.query(
      `WITH u AS (UPDATE wallet.recharge_refunds SET status = 'SUCCEEDED', provider_refund_id = $2, completed_at = now() WHERE id = $1 AND status = 'PENDING' RETURNING *) SELECT * FROM u`,
      [refundId, providerRefundId],
    );
    if (!r) return; // applied already
    if (o.status !== "SUCCEEDED") {
      // A full reversal (the provider's refund webhook, a chargeback) got here first and took back the rest.
      await m.query(`UPDATE wallet.recharge_refunds SET coins_reversed = 0, debt_recorded = 0 WHERE id = $1`, [refundId]);
      return;
    }
    const paid = Number(o.amount_minor);
    const before = Number(o.refunded_minor);
    const after = before + Number(r.amount_minor);
    const share = coinsToTakeBack(Number(o.coins) + Number(o.bonus_coins), paid, before, after);
    const taken = Math.min(share, Number(acct.coins));
    const debt = share - taken;
    if (share > 0) await postEntry(m, { userId: o.user_id, type: EntryType.REFUND, amount: -taken, debtChange: debt, reference: orderId });
    const full = after === paid;
    await m.query(
      `UPDATE wallet.recharge_orders SET refunded_minor = $2, refunded_coins = refunded_coins + $3, coins_reversed = coalesce(coins_reversed, 0) + $4,
              debt_recorded = coalesce(debt_recorded, 0) + $5, updated_at = now(),
              status = CASE WHEN $6 THEN $8 ELSE status END,
              reversed_at = CASE WHEN $6 THEN now() ELSE reversed_at END,
              reversal_reason = CASE WHEN $6 THEN $7 ELSE reversal_reason END
        WHERE id = $1`,
      [orderId, after, share, taken, debt, full, `${r.reason} (by ${adminId})`, FULLY_REFUNDED.to],
    );
    await m.query(`UPDATE wallet.recharge_refunds SET coins_reversed = $2, debt_recorded = $3 WHERE id = $1`, [refundId, taken, debt]);
    await m.query(`INSERT INTO wallet.recharge_order_events (order_id, from_status, to_status, source, detail) VALUES ($1, $4, $2, 'admin', $3)`, [
      orderId,
      full ? FULLY_REFUNDED.to : FULLY_REFUNDED.from,
      JSON.stringify({ refundId, amountMinor: Number(r.amount_minor), refundedMinor: after, coinsTakenBack: share, debt }),
      FULLY_REFUNDED.from,
    ]);
  }
}
