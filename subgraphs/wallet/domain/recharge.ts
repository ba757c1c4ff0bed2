import type { DataSource, EntityManager } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { MoneyRateLimiter } from "../../../platform/money-rate-limit.js";
import { DEFAULT_VELOCITY, type VelocityLimits } from "./recharge-limits.js";
import type { PaymentProvider, WebhookEvent } from "./payments/provider.js";
import { RefundService, type RefundRequest } from "./refunds.js";
import { allRegions, customPrice, packagesIn, regionByCurrency, resolveRegion } from "./recharge/catalogue.js";
import { confirmOrder } from "./recharge/confirm.js";
import { placeOrder } from "./recharge/create.js";
import { InFlight } from "./recharge/in-flight.js";
import { listOrders, readOrder, readOrders, type OrderPage } from "./recharge/orders.js";
import { reconcileOrders } from "./recharge/reconcile.js";
import type { CoinPackageView, OrderStatus, OrderView, RechargeCore, RechargeOptions, RechargeRequest, RegionInfo } from "./recharge/types.js";
import { applyWebhook, type WebhookOutcome } from "./recharge/webhooks.js";

export { isUuid } from "./recharge/orders.js";
export type { CoinPackageView, OrderStatus, OrderView, RechargeOptions, RechargeRequest, RegionInfo } from "./recharge/types.js";

/**
 * Buying coins: the recharge order state machine and what drives it. Coins are credited in
 * exactly one place — the transition to SUCCEEDED (recharge/transitions.ts, the table; run by
 * recharge/machine.ts under the order's row lock, with the ledger entries in the same
 * transaction) — so the API call, confirm, webhooks (repeated, out of order), admin refunds and
 * the reconciler can all race and the order is credited once.
 *
 * One file per step under recharge/: create.ts (the mutation: checks, key claim, limits, the
 * order row), drive.ts (the provider call, waiting for an in-flight twin), settle.ts (events and
 * their ledger effects), confirm.ts, webhooks.ts, reconcile.ts; orders.ts and catalogue.ts read.
 * This class holds the settings and the in-process state they share (RechargeCore).
 */
export class RechargeService implements RechargeCore {
  readonly velocity: VelocityLimits;
  readonly limiter: MoneyRateLimiter;
  inFlightWaitMs: number;
  staleProcessingMs: number;
  /** A REQUIRES_ACTION order older than this is cancelled by the reconciler (so it stops counting against limits). */
  abandonAfterMs: number;
  /** The per-user queue and the "order settled" signal of this process (recharge/in-flight.ts). */
  readonly inFlight = new InFlight();

  constructor(
    readonly dataSource: DataSource,
    readonly provider: PaymentProvider,
    opts: RechargeOptions = {},
  ) {
    this.velocity = { ...(opts.velocity ?? DEFAULT_VELOCITY) };
    this.limiter = opts.limiter ?? new MoneyRateLimiter("wallet");
    // Below the gateway's 10 s subgraph timeout (SUBGRAPH_TIMEOUT_MS): a retry of an order still in flight
    // gets the order back (PROCESSING: poll rechargeOrder), not SUBGRAPH_TIMEOUT (found by test/reliability).
    this.inFlightWaitMs = opts.inFlightWaitMs ?? 8_000;
    this.staleProcessingMs = opts.staleProcessingMs ?? 60_000;
    this.abandonAfterMs = opts.abandonAfterMs ?? 3_600_000;
  }

  // ---------------------------------------------------------------- catalogue

  regions(): Promise<RegionInfo[]> {
    return allRegions(this.dataSource);
  }

  /** The region's pricing; an unsupported (well-formed) region falls back to the default region. */
  resolveRegion(requested: string | null | undefined, m: Pick<EntityManager, "query"> = this.dataSource): Promise<RegionInfo> {
    return resolveRegion(m, requested);
  }

  regionByCurrency(currency: string, m: Pick<EntityManager, "query"> = this.dataSource): Promise<RegionInfo | null> {
    return regionByCurrency(m, currency);
  }

  packages(region: RegionInfo, now = new Date(), m: Pick<EntityManager, "query"> = this.dataSource): Promise<CoinPackageView[]> {
    return packagesIn(m, region, now);
  }

  /** Price of a custom amount: the region's per-coin price, half-up to the minor unit. */
  customPrice(region: RegionInfo, coins: number): number {
    return customPrice(region, coins);
  }

  // ---------------------------------------------------------------- reads

  order(id: string): Promise<OrderView | null> {
    return readOrder(this.dataSource, id);
  }

  /** Many orders in one query (the DataLoader behind WalletTransaction.rechargeOrder); null for unknown ids. */
  ordersByIds(ids: readonly string[]): Promise<(OrderView | null)[]> {
    return readOrders(this.dataSource, ids);
  }

  /** The user's orders, newest first; keyset pagination on (created_at, id). */
  listOrders(userId: string, opts: { first?: number | null; after?: string | null; status?: OrderStatus | null }): Promise<OrderPage> {
    return listOrders(this.dataSource, userId, opts);
  }

  // ---------------------------------------------------------------- the steps

  /**
   * Creates (or finds, by idempotency key) the order and drives it through the provider.
   * Throws DomainError for business failures before anything is stored; a declined payment
   * is a stored FAILED order (the replay answers the same).
   */
  recharge(user: AuthUser, input: RechargeRequest): Promise<OrderView> {
    return placeOrder(this, user, input);
  }

  /** Completes a REQUIRES_ACTION order after 3-D Secure; an order already decided is answered as it is. */
  confirm(user: AuthUser, orderId: string): Promise<OrderView> {
    return confirmOrder(this, user, orderId);
  }

  /**
   * Admin refund of the whole order or part of it (`amountMinor`; omitted: the rest): the provider
   * refunds first, then coins go back in proportion (domain/refunds.ts, DECISIONS 49).
   */
  refund(orderId: string, reason: string, adminId: string, req: RefundRequest = {}): Promise<OrderView> {
    return new RefundService(this.dataSource, this.provider, (id) => this.order(id)).refund(orderId, reason, adminId, req);
  }

  /** Applies a verified provider event exactly once (by event id); redeliveries are acknowledged. */
  applyWebhook(event: WebhookEvent): Promise<WebhookOutcome> {
    return applyWebhook(this, event);
  }

  /** Asks the provider about orders that have waited longer than `olderThanMs` (lost webhooks, interrupted calls). */
  reconcile(olderThanMs = this.staleProcessingMs): Promise<number> {
    return reconcileOrders(this, olderThanMs);
  }
}
