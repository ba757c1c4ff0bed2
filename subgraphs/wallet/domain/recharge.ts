import { randomUUID } from "node:crypto";
import { EventEmitter } from "node:events";
import type { DataSource, EntityManager } from "typeorm";
import { retryTransient } from "../../../platform/db.js";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, badInput } from "../../../platform/errors.js";
import { logger } from "../../../platform/logger.js";
import { priceForCoins } from "../../../platform/money.js";
import { MoneyRateLimiter } from "../../../platform/rate-limit.js";
import { requestHash, validateIdempotencyKey } from "./idempotency.js";
import { EntryType, postEntry } from "./ledger.js";
import { packagesOnSale, quotePackage } from "./coin-packages.js";
import { RefundService, type RefundRequest } from "./refunds.js";
import { DEFAULT_VELOCITY, enforceLimits, type VelocityLimits } from "./limits.js";
import {
  ProviderRejected,
  publicFailureCode,
  type PaymentProvider,
  type ProviderPayment,
  type WebhookEvent,
} from "./payments/provider.js";
import { DEFAULT_REGION, MAX_CUSTOM_COINS, MIN_CUSTOM_COINS, PAYMENT_METHOD_TYPES, normalizeRegion, type PaymentMethodType } from "./regions.js";

/**
 * The recharge order state machine. Coins are credited in exactly one place — the
 * conditional transition to SUCCEEDED (`UPDATE ... WHERE status IN (...) RETURNING`) in the
 * same transaction as the ledger entries — so the API call, confirm, webhooks (repeated,
 * out of order) and the reconciler can all race and the order is credited once.
 *
 *   PROCESSING ──▶ SUCCEEDED ──▶ REFUNDED | CHARGED_BACK
 *        │ ▲            ▲
 *        ▼ │            │
 *   PENDING / REQUIRES_ACTION ──▶ FAILED
 *
 * PROCESSING means "the provider call is in flight": the order row exists (so a duplicate
 * request finds it) but no database transaction is held open across the provider call.
 */
export type OrderStatus = "PROCESSING" | "PENDING" | "REQUIRES_ACTION" | "SUCCEEDED" | "FAILED" | "REFUNDED" | "CHARGED_BACK";
const OPEN: OrderStatus[] = ["PROCESSING", "PENDING", "REQUIRES_ACTION"];

export interface RegionInfo {
  region: string;
  currency: string;
  locale: string;
  customPriceMinor: number;
  customPriceCoins: number;
  paymentMethods: PaymentMethodType[];
}

export interface CoinPackageView {
  id: string;
  region: string;
  coins: number;
  bonusCoins: number;
  promotionEndsAt: string | null;
  priceMinor: number;
  currency: string;
  locale: string;
}

export interface OrderView {
  id: string;
  userId: string;
  status: OrderStatus;
  packageId: string | null;
  region: string;
  coins: number;
  bonusCoins: number;
  amountMinor: number;
  currency: string;
  locale: string;
  paymentMethodType: string;
  failureCode: string | null;
  nextAction: { type: string; redirectUrl: string } | null;
  coinsReversed: number | null;
  debtRecorded: number | null;
  reversalReason: string | null;
  /** Money refunded so far (partial refunds add up; a full reversal by the provider counts the whole amount). */
  refundedMinor: number;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
  reversedAt: string | null;
}

export interface RechargeRequest {
  packageId?: string | null;
  customCoins?: number | null;
  region?: string | null;
  paymentMethod: { type: string; token: string };
  idempotencyKey: string;
  /** The package price the buyer was shown (minor units); a different current price is PRICE_CHANGED. Not part of the request hash. */
  expectedAmountMinor?: number | null;
  /** The bonus the buyer was shown; less bonus now (promotion ended) is PROMOTION_ENDED. Not part of the request hash. */
  expectedBonusCoins?: number | null;
}

export interface RechargeOptions {
  velocity?: VelocityLimits;
  /** How long a duplicate request waits for an in-flight original before answering with its current state. */
  inFlightWaitMs?: number;
  /** A PROCESSING order untouched this long is considered interrupted and may be re-driven. */
  staleProcessingMs?: number;
  abandonAfterMs?: number;
  /** The durable per-user recharge / confirmRecharge limit (default: MONEY_MUTATION_LIMITS in wallet.rate_limits). */
  limiter?: MoneyRateLimiter;
}

type Source = "api" | "confirm" | "webhook" | "admin" | "reconciler";

const MAX_TOKEN_LENGTH = 256;

export class RechargeService {
  readonly velocity: VelocityLimits;
  readonly limiter: MoneyRateLimiter;
  inFlightWaitMs: number;
  staleProcessingMs: number;
  /** A REQUIRES_ACTION order older than this is cancelled by the reconciler (so it stops counting against limits). */
  abandonAfterMs: number;
  /** Wakes in-process waiters when an order leaves PROCESSING (other instances fall back to polling). */
  private readonly settled = new EventEmitter().setMaxListeners(0);

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

  async regions(): Promise<RegionInfo[]> {
    const rows = await this.dataSource.query(`SELECT * FROM wallet.regions ORDER BY region`);
    return rows.map(toRegion);
  }

  /** The region's pricing; an unsupported (well-formed) region falls back to the default region. */
  async resolveRegion(requested: string | null | undefined, m: Pick<EntityManager, "query"> = this.dataSource): Promise<RegionInfo> {
    const code = normalizeRegion(requested) ?? DEFAULT_REGION;
    const rows = await m.query(`SELECT * FROM wallet.regions WHERE region IN ($1, $2) ORDER BY region = $1 DESC`, [code, DEFAULT_REGION]);
    if (rows.length === 0) throw new Error("wallet.regions is not seeded");
    return toRegion(rows[0]);
  }

  async regionByCurrency(currency: string, m: Pick<EntityManager, "query"> = this.dataSource): Promise<RegionInfo | null> {
    const [row] = await m.query(`SELECT * FROM wallet.regions WHERE currency = $1 ORDER BY region LIMIT 1`, [currency]);
    return row ? toRegion(row) : null;
  }

  async packages(region: RegionInfo, now = new Date(), m: Pick<EntityManager, "query"> = this.dataSource): Promise<CoinPackageView[]> {
    // Prices come from the package's price periods (domain/coin-packages.ts), the bonus from the best promotion in force.
    return packagesOnSale(m, region.region, now);
  }

  /** Price of a custom amount: the region's per-coin price, half-up to the minor unit. */
  customPrice(region: RegionInfo, coins: number): number {
    return priceForCoins(coins, region.customPriceMinor, region.customPriceCoins);
  }

  // ---------------------------------------------------------------- reads

  async order(id: string): Promise<OrderView | null> {
    if (!isUuid(id)) return null;
    const rows = await this.dataSource.query(`${ORDER_SELECT} WHERE o.id = $1`, [id]);
    return rows[0] ? toOrder(rows[0]) : null;
  }

  /** Many orders in one query (the DataLoader behind WalletTransaction.rechargeOrder); null for unknown ids. */
  async ordersByIds(ids: readonly string[]): Promise<(OrderView | null)[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    const rows = valid.length ? await this.dataSource.query(`${ORDER_SELECT} WHERE o.id = ANY($1::uuid[])`, [valid]) : [];
    const byId = new Map<string, OrderView>(rows.map((r: any) => [r.id, toOrder(r)]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  /** The user's orders, newest first; keyset pagination on (created_at, id). */
  async listOrders(userId: string, opts: { first?: number | null; after?: string | null; status?: OrderStatus | null }): Promise<{ orders: OrderView[]; cursors: string[]; hasNextPage: boolean }> {
    const first = opts.first ?? 20;
    if (!Number.isInteger(first) || first < 1 || first > 100) throw badInput("first must be between 1 and 100", ["first"]);
    let afterAt: string | null = null;
    let afterId: string | null = null;
    if (opts.after) {
      const m = /^ro:(\d{4}-\d\d-\d\dT[\d:.]+Z)\|([0-9a-f-]{36})$/.exec(Buffer.from(opts.after, "base64url").toString("utf8"));
      if (!m || !isUuid(m[2]) || Number.isNaN(Date.parse(m[1]))) throw badInput("after is not a valid cursor", ["after"]);
      [afterAt, afterId] = [m[1], m[2]];
    }
    // PROCESSING is shown as PENDING, so a PENDING filter includes it.
    const statuses = opts.status ? (opts.status === "PENDING" ? ["PENDING", "PROCESSING"] : [opts.status]) : null;
    const rows = await this.dataSource.query(
      `${ORDER_SELECT} WHERE o.user_id = $1 AND ($2::timestamptz IS NULL OR (o.created_at, o.id) < ($2::timestamptz, $3::uuid))
         AND ($4::text[] IS NULL OR o.status = ANY($4::text[]))
       ORDER BY o.created_at DESC, o.id DESC LIMIT $5`,
      [userId, afterAt, afterId, statuses, first + 1],
    );
    const orders: OrderView[] = rows.slice(0, first).map(toOrder);
    // Microsecond precision matters for the keyset: read it back from PostgreSQL, not from a JS Date.
    const cursors = rows.slice(0, first).map((r: any) => Buffer.from(`ro:${r.created_at_text}|${r.id}`).toString("base64url"));
    return { orders, cursors, hasNextPage: rows.length > first };
  }

  // ---------------------------------------------------------------- recharge

  /**
   * Creates (or finds, by idempotency key) the order and drives it through the provider.
   * Throws DomainError for business failures before anything is stored; a declined payment
   * is a stored FAILED order (the replay answers the same).
   */
  async recharge(user: AuthUser, input: RechargeRequest): Promise<OrderView> {
    const key = validateIdempotencyKey(input.idempotencyKey);
    const hasPackage = input.packageId !== undefined && input.packageId !== null;
    const hasCustom = input.customCoins !== undefined && input.customCoins !== null;
    if (hasPackage === hasCustom) throw badInput("give exactly one of packageId or customCoins", ["input"]);
    const token = input.paymentMethod?.token;
    if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
      throw badInput(`paymentMethod.token must be 1..${MAX_TOKEN_LENGTH} characters`, ["input", "paymentMethod", "token"]);
    }
    if (!PAYMENT_METHOD_TYPES.includes(input.paymentMethod.type as PaymentMethodType)) throw badInput("unknown payment method type", ["input", "paymentMethod", "type"]);
    if (input.region !== undefined && input.region !== null && normalizeRegion(input.region) === null) {
      throw badInput("region must be an ISO 3166 alpha-2 code", ["input", "region"]);
    }

    if (!user.adult) throw new DomainError(ErrorCode.NOT_ADULT, "only adults can buy coins", { field: ["input"] });
    // Coins are sold at the account's region's prices; an explicit region must agree (the client shows what it will charge).
    const region = await this.resolveRegion(user.region);
    if (input.region && normalizeRegion(input.region) !== region.region) {
      const known = await this.dataSource.query(`SELECT 1 FROM wallet.regions WHERE region = $1`, [normalizeRegion(input.region)]);
      if (known.length === 0) throw new DomainError(ErrorCode.UNKNOWN_REGION, `coins are not sold in region ${normalizeRegion(input.region)}`, { field: ["input", "region"] });
      throw new DomainError(ErrorCode.INVALID_INPUT, `your account buys at ${region.region} prices, not ${normalizeRegion(input.region)}`, { field: ["input", "region"] });
    }

    const hash = requestHash("recharge", {
      packageId: input.packageId ?? null,
      customCoins: input.customCoins ?? null,
      region: region.region,
      method: input.paymentMethod.type,
      token,
    });

    // Fast path for retries: an existing order answers without queueing on the per-user lock.
    const [known] = await this.dataSource.query(`SELECT id, request_hash FROM wallet.recharge_orders WHERE user_id = $1 AND idempotency_key = $2`, [user.id, key]);
    if (known) {
      if (known.request_hash !== hash) {
        throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used with a different request", { field: ["input", "idempotencyKey"] });
      }
      return this.awaitOrResume(known.id, user.id, input.paymentMethod);
    }

    // Inside this transaction every query goes through `m`: taking a second pool connection while
    // holding the lock would deadlock the pool under a burst.
    const created = await this.serializedPerUser(user.id, () => this.dataSource.transaction(async (m) => {
      // One recharge decision per user at a time: limits are checked and the order inserted atomically.
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('wallet:recharge:' || $1))`, [user.id]);
      // Claim the key first, in the per-user key space shared with sendGift. ON CONFLICT waits for a
      // concurrent sendGift holding the same key and then sees its row: the loser answers
      // IDEMPOTENCY_KEY_REUSED, never a unique violation (a plain INSERT after a SELECT raced there).
      // The same statement takes the durable per-user recharge token, only for a newly claimed key
      // (a replay never does); a refusal or any failure below rolls it back with the key.
      const id = randomUUID();
      const [{ claimed, admitted }]: { claimed: boolean; admitted: boolean }[] = await m.query(
        `WITH claimed AS (
           INSERT INTO wallet.idempotency_keys (user_id, key, operation, request_hash, response) VALUES ($1, $2, 'recharge', $3, $4)
           ON CONFLICT (user_id, key) DO NOTHING RETURNING 1),
         token AS (${this.limiter.claimSql(5, "EXISTS (SELECT 1 FROM claimed)")})
         SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, EXISTS (SELECT 1 FROM token) AS admitted`,
        [user.id, key, hash, JSON.stringify({ orderId: id }), ...this.limiter.claimParams(user.id, "recharge")],
      );
      if (claimed && !admitted) throw await this.limiter.refusal(m, user.id, "recharge");
      if (!claimed) {
        const [keyRow] = await m.query(`SELECT operation, request_hash FROM wallet.idempotency_keys WHERE user_id = $1 AND key = $2`, [user.id, key]);
        if (keyRow.operation !== "recharge" || keyRow.request_hash !== hash) {
          throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used with a different request", { field: ["input", "idempotencyKey"] });
        }
        const [existing] = await m.query(`SELECT id FROM wallet.recharge_orders WHERE user_id = $1 AND idempotency_key = $2`, [user.id, key]);
        return { id: existing.id as string, fresh: false };
      }

      if (!region.paymentMethods.includes(input.paymentMethod.type as PaymentMethodType)) {
        throw new DomainError(ErrorCode.PAYMENT_METHOD_NOT_AVAILABLE, `${input.paymentMethod.type} is not available in ${region.region}`, { field: ["input", "paymentMethod", "type"] });
      }
      let coins: number;
      let bonusCoins = 0;
      let amountMinor: number;
      let packageId: string | null = null;
      if (hasPackage) {
        // Retired package, ended promotion or changed price: a typed error with the current offer (coin-packages.ts).
        const pkg = await quotePackage(m, region, input.packageId!, { amountMinor: input.expectedAmountMinor, bonusCoins: input.expectedBonusCoins });
        ({ coins, bonusCoins, priceMinor: amountMinor } = pkg);
        packageId = pkg.id;
      } else {
        coins = input.customCoins!;
        if (!Number.isInteger(coins) || coins < MIN_CUSTOM_COINS || coins > MAX_CUSTOM_COINS) {
          throw new DomainError(ErrorCode.INVALID_INPUT, `customCoins must be between ${MIN_CUSTOM_COINS} and ${MAX_CUSTOM_COINS}`, { field: ["input", "customCoins"] });
        }
        amountMinor = this.customPrice(region, coins);
      }

      await enforceLimits(m, user.id, { coins, amountMinor, currency: region.currency }, this.velocity, async (currency) => {
        const r = await this.regionByCurrency(currency, m);
        return r && { numerator: r.customPriceMinor, denominator: r.customPriceCoins };
      });

      await m.query(
        `INSERT INTO wallet.recharge_orders (id, user_id, idempotency_key, request_hash, status, package_id, region, coins, bonus_coins,
                                             amount_minor, currency, payment_method_type, provider)
         VALUES ($1, $2, $3, $4, 'PROCESSING', $5, $6, $7, $8, $9, $10, $11, $12)`,
        [id, user.id, key, hash, packageId, region.region, coins, bonusCoins, amountMinor, region.currency, input.paymentMethod.type, this.provider.name],
      );
      await recordEvent(m, id, null, "PROCESSING", "api", { amountMinor, currency: region.currency, coins, bonusCoins });
      return { id, fresh: true };
    }));

    if (created.fresh) {
      await this.drive(created.id, user.id, input.paymentMethod);
      return (await this.order(created.id))!;
    }
    return this.awaitOrResume(created.id, user.id, input.paymentMethod);
  }

  private readonly userQueues = new Map<string, Promise<unknown>>();

  /**
   * Runs `fn` after earlier calls for the same user in this process. The advisory lock still
   * serializes across instances; this keeps a burst from one user from parking every pool
   * connection on that lock (which starves webhooks and other users).
   */
  private serializedPerUser<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.userQueues.get(userId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.userQueues.set(userId, tail);
    void tail.then(() => {
      if (this.userQueues.get(userId) === tail) this.userQueues.delete(userId);
    });
    return run;
  }

  /** A duplicate of an in-flight request waits for the original; an interrupted one is re-driven (the provider call is idempotent). */
  private async awaitOrResume(orderId: string, customerId: string, method: { type: string; token: string }): Promise<OrderView> {
    const deadline = Date.now() + this.inFlightWaitMs;
    for (;;) {
      const order = (await this.order(orderId))!;
      if (order.status !== "PROCESSING") return order;
      if (Date.now() - new Date(order.updatedAt).getTime() > this.staleProcessingMs) {
        await this.drive(orderId, customerId, method);
        return (await this.order(orderId))!;
      }
      const left = deadline - Date.now();
      if (left <= 0) return order;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          this.settled.off(orderId, done);
          resolve();
        };
        // Polling covers a twin running on another instance; the event covers this one at once.
        const t = setTimeout(done, Math.min(left, 100));
        this.settled.on(orderId, done);
      });
    }
  }

  /** Calls the provider for a PROCESSING order and applies the answer. */
  private async drive(orderId: string, customerId: string, method: { type: string; token: string }): Promise<void> {
    const [o] = await this.dataSource.query(`SELECT amount_minor, currency FROM wallet.recharge_orders WHERE id = $1`, [orderId]);
    let payment: ProviderPayment;
    try {
      payment = await this.provider.createPayment({
        idempotencyKey: `order:${orderId}`,
        orderId,
        customerId,
        amountMinor: Number(o.amount_minor),
        currency: o.currency.trim(),
        method,
      });
    } catch (e) {
      if (e instanceof ProviderRejected) {
        await this.dataSource.transaction((m) => this.fail(m, orderId, e.code, "api"));
      } else {
        // Outcome unknown: the order stays PROCESSING; a retry with the same key or the reconciler resolves it.
        logger.warn({ orderId, err: e instanceof Error ? e.message : String(e) }, "payment provider call failed; order left PROCESSING");
      }
      this.settled.emit(orderId);
      return;
    }
    await this.applyPayment(orderId, payment, "api");
  }

  /**
   * Applies the provider's view of a payment to the order (any source). The provider has already
   * answered, so a dropped connection or a rolled-back transaction is retried here rather than
   * leaving the order PROCESSING until it is stale; every transition is guarded by the order's
   * status, so applying twice changes nothing.
   */
  private async applyPayment(orderId: string, p: ProviderPayment, source: Source): Promise<void> {
    await retryTransient(() => this.applyPaymentOnce(orderId, p, source));
    this.settled.emit(orderId);
  }

  private async applyPaymentOnce(orderId: string, p: ProviderPayment, source: Source): Promise<void> {
    await this.dataSource.transaction(async (m) => {
      await m.query(`UPDATE wallet.recharge_orders SET provider_payment_id = $2 WHERE id = $1 AND provider_payment_id IS NULL`, [orderId, p.id]);
      switch (p.status) {
        case "succeeded":
          await this.succeed(m, orderId, source);
          break;
        case "failed":
          await this.fail(m, orderId, p.failureCode ?? "card_declined", source);
          break;
        case "requires_action":
          await this.transition(m, orderId, ["PROCESSING"], "REQUIRES_ACTION", source, { next_action: JSON.stringify(p.nextAction ?? null) });
          break;
        case "processing":
          await this.transition(m, orderId, ["PROCESSING"], "PENDING", source);
          break;
      }
    });
  }

  /** The one place coins are credited. Returns false when the order was not open (already credited or failed). */
  private async succeed(m: EntityManager, orderId: string, source: Source): Promise<boolean> {
    const row = await this.transition(m, orderId, OPEN, "SUCCEEDED", source, { completed_at: "now()", next_action: null });
    if (!row) return false;
    const coins = Number(row.coins);
    const bonus = Number(row.bonus_coins);
    let posted = await postEntry(m, { userId: row.user_id, type: EntryType.RECHARGE, amount: coins, reference: orderId });
    if (bonus > 0) posted = await postEntry(m, { userId: row.user_id, type: EntryType.BONUS, amount: bonus, reference: orderId });
    // New coins repay debt first (from an earlier refund/chargeback): sending stays blocked until it is cleared.
    if (posted.debtAfter > 0) {
      const repay = Math.min(posted.debtAfter, posted.balanceAfter);
      if (repay > 0) await postEntry(m, { userId: row.user_id, type: EntryType.DEBT_REPAID, amount: -repay, debtChange: -repay, reference: orderId });
    }
    return true;
  }

  private async fail(m: EntityManager, orderId: string, providerCode: string, source: Source): Promise<boolean> {
    const row = await this.transition(m, orderId, OPEN, "FAILED", source, {
      completed_at: "now()",
      next_action: null,
      failure_code: publicFailureCode(providerCode),
      provider_failure_code: providerCode,
    });
    return row !== null;
  }

  /**
   * Conditional status change: only from one of `from`. Returns the updated row, or null when the
   * order was not in one of those states (someone else got there first; nothing happens).
   */
  private async transition(m: EntityManager, orderId: string, from: OrderStatus[], to: OrderStatus, source: Source, set: Record<string, unknown> = {}): Promise<any | null> {
    // Lock the order row first: the status read below is the latest committed one and cannot change under us.
    const [cur] = await m.query(`SELECT status FROM wallet.recharge_orders WHERE id = $1 FOR UPDATE`, [orderId]);
    if (!cur || !from.includes(cur.status)) return null;
    const cols = Object.keys(set);
    const params: unknown[] = [orderId, to];
    const assignments = cols.map((c) => {
      const v = set[c];
      if (v === "now()") return `${c} = now()`;
      params.push(v);
      return `${c} = $${params.length}`;
    });
    // Wrapped in a CTE: TypeORM returns [rows, count] for a bare UPDATE, rows for a SELECT.
    const rows = await m.query(
      `WITH u AS (UPDATE wallet.recharge_orders SET status = $2, updated_at = now()${assignments.map((a) => `, ${a}`).join("")}
                   WHERE id = $1 RETURNING *)
       SELECT * FROM u`,
      params,
    );
    rows[0].from_status = cur.status;
    await recordEvent(m, orderId, rows[0].from_status, to, source, null);
    return rows[0];
  }

  // ---------------------------------------------------------------- confirm (3-D Secure)

  async confirm(user: AuthUser, orderId: string): Promise<OrderView> {
    const order = await this.order(orderId);
    if (!order || order.userId !== user.id) throw new DomainError(ErrorCode.NOT_FOUND, "no such recharge order", { field: ["orderId"] });
    // Already decided (e.g. the webhook got here first): confirming again is a harmless replay.
    if (order.status === "SUCCEEDED" || order.status === "FAILED" || order.status === "REFUNDED" || order.status === "CHARGED_BACK") return order;
    if (order.status !== "REQUIRES_ACTION") throw new DomainError(ErrorCode.INVALID_STATE, `order is ${order.status === "PROCESSING" ? "PENDING" : order.status}; nothing to confirm`, { field: ["orderId"] });
    // Only a confirmation that reaches the provider takes a token (a replay of a decided order above does not).
    await this.limiter.guard(this.dataSource, user.id, "confirmRecharge");
    const [row] = await this.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [orderId]);
    let payment: ProviderPayment;
    try {
      payment = await this.provider.confirmPayment(row.provider_payment_id, `confirm:${orderId}`);
    } catch (e) {
      if (e instanceof ProviderRejected) throw new DomainError(ErrorCode.PAYMENT_FAILED, "the payment provider refused the confirmation", { field: ["orderId"] });
      throw new DomainError(ErrorCode.PAYMENT_FAILED, "the payment provider is unavailable; try again", { field: ["orderId"], retryAfterSeconds: 5 });
    }
    await this.applyPayment(orderId, payment, "confirm");
    return (await this.order(orderId))!;
  }

  // ---------------------------------------------------------------- refunds and chargebacks

  /**
   * Admin refund of the whole order or part of it (`amountMinor`; omitted: the rest): the provider
   * refunds first, then coins go back in proportion (domain/refunds.ts, DECISIONS 49).
   */
  async refund(orderId: string, reason: string, adminId: string, req: RefundRequest = {}): Promise<OrderView> {
    return new RefundService(this.dataSource, this.provider, (id) => this.order(id)).refund(orderId, reason, adminId, req);
  }

  /**
   * Takes back the order's coins (bonus included) that are still unspent; the rest becomes debt.
   * Exactly once: conditional on SUCCEEDED. The account row is locked so a concurrent gift cannot
   * spend between reading the balance and the debit.
   */
  private async reverse(m: EntityManager, orderId: string, kind: "REFUNDED" | "CHARGED_BACK", reason: string, source: Source): Promise<boolean> {
    // Lock order everywhere in this file: the order row, then the account row.
    const [o] = await m.query(`SELECT user_id FROM wallet.recharge_orders WHERE id = $1 FOR UPDATE`, [orderId]);
    if (!o) return false;
    await m.query(`INSERT INTO wallet.accounts (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, [o.user_id]);
    const [acct] = await m.query(`SELECT coins FROM wallet.accounts WHERE user_id = $1 FOR UPDATE`, [o.user_id]);
    const row = await this.transition(m, orderId, ["SUCCEEDED"], kind, source, { reversed_at: "now()", reversal_reason: reason });
    if (!row) return false;
    // What partial refunds already took back stays taken back: this reversal takes the rest (refunds.ts).
    const total = Number(row.coins) + Number(row.bonus_coins) - Number(row.refunded_coins);
    const taken = Math.min(total, Number(acct.coins));
    const debt = total - taken;
    if (total > 0) await postEntry(m, { userId: o.user_id, type: kind === "REFUNDED" ? EntryType.REFUND : EntryType.CHARGEBACK, amount: -taken, debtChange: debt, reference: orderId });
    await m.query(
      `UPDATE wallet.recharge_orders SET coins_reversed = coalesce(coins_reversed, 0) + $2, debt_recorded = coalesce(debt_recorded, 0) + $3,
              refunded_coins = coins + bonus_coins, refund_reserved_minor = amount_minor,
              refunded_minor = CASE WHEN $4 THEN amount_minor ELSE refunded_minor END WHERE id = $1`,
      [orderId, taken, debt, kind === "REFUNDED"],
    );
    return true;
  }

  // ---------------------------------------------------------------- webhooks

  /**
   * Applies a verified provider event exactly once (by event id); redeliveries are acknowledged.
   * Returns the outcome recorded for the event.
   */
  async applyWebhook(event: WebhookEvent): Promise<{ outcome: string; duplicate: boolean }> {
    const result = await this.dataSource.transaction(async (m) => {
      const inserted = await m.query(
        `INSERT INTO wallet.payment_webhook_events (id, type, payment_id, outcome, payload) VALUES ($1, $2, $3, 'received', $4)
         ON CONFLICT (id) DO NOTHING RETURNING id`,
        [event.id, event.type, event.data.paymentId, JSON.stringify(event)],
      );
      if (inserted.length === 0) return { outcome: "duplicate", duplicate: true, orderId: null as string | null };
      const outcome = await this.applyEvent(m, event);
      await m.query(`UPDATE wallet.payment_webhook_events SET outcome = $2 WHERE id = $1`, [event.id, outcome.outcome]);
      return { ...outcome, duplicate: false };
    });
    if (result.orderId) this.settled.emit(result.orderId);
    return { outcome: result.outcome, duplicate: result.duplicate };
  }

  private async applyEvent(m: EntityManager, event: WebhookEvent): Promise<{ outcome: string; orderId: string | null }> {
    const { paymentId, orderId } = event.data;
    // Our own createPayment answer may not be stored yet: the provider echoes the order id, so bind the payment to it.
    if (orderId && isUuid(orderId)) {
      await m.query(`UPDATE wallet.recharge_orders SET provider_payment_id = $2 WHERE id = $1 AND provider_payment_id IS NULL`, [orderId, paymentId]);
    }
    const [o] = await m.query(`SELECT id, status, amount_minor, currency FROM wallet.recharge_orders WHERE provider_payment_id = $1`, [paymentId]);
    if (!o) {
      logger.warn({ eventId: event.id, paymentId }, "webhook for an unknown payment");
      return { outcome: "unknown_payment", orderId: null };
    }
    if (
      (event.data.amountMinor !== undefined && event.data.amountMinor !== Number(o.amount_minor)) ||
      (event.data.currency !== undefined && event.data.currency !== o.currency.trim())
    ) {
      logger.error({ eventId: event.id, orderId: o.id }, "webhook amount/currency does not match the order; not applied");
      return { outcome: "amount_mismatch", orderId: o.id };
    }
    let changed = false;
    switch (event.type) {
      case "payment.succeeded":
        changed = await this.succeed(m, o.id, "webhook");
        break;
      case "payment.failed":
        changed = await this.fail(m, o.id, event.data.failureCode ?? "async_payment_failed", "webhook");
        break;
      case "payment.refunded":
      case "payment.charged_back": {
        const kind = event.type === "payment.refunded" ? "REFUNDED" : "CHARGED_BACK";
        // Only a paid order can be disputed: if its success has not reached us yet, it has happened.
        if (OPEN.includes(o.status)) await this.succeed(m, o.id, "webhook");
        changed = await this.reverse(m, o.id, kind, kind === "REFUNDED" ? "refunded at the payment provider" : "chargeback", "webhook");
        break;
      }
      default:
        return { outcome: "ignored_type", orderId: o.id };
    }
    return { outcome: changed ? "applied" : "no_change", orderId: o.id };
  }

  // ---------------------------------------------------------------- reconciliation

  /**
   * Safety net for lost webhooks and interrupted calls: asks the provider about orders that have
   * waited too long and applies what it says. Run periodically by the background job.
   */
  async reconcile(olderThanMs = this.staleProcessingMs): Promise<number> {
    const rows: { id: string; provider_payment_id: string | null; status: OrderStatus; abandoned: boolean }[] = await this.dataSource.query(
      `SELECT id, provider_payment_id, status, created_at < now() - make_interval(secs => $2::float8 / 1000) AS abandoned FROM wallet.recharge_orders
        WHERE status IN ('PROCESSING', 'PENDING', 'REQUIRES_ACTION') AND updated_at < now() - make_interval(secs => $1::float8 / 1000)
        ORDER BY updated_at LIMIT 100`,
      [olderThanMs, this.abandonAfterMs],
    );
    let applied = 0;
    for (const r of rows) {
      if (!r.provider_payment_id) continue; // never reached the provider: a client retry with the same key re-drives it
      try {
        // A 3-D Secure challenge nobody finished: cancel it at the provider (which may answer that it succeeded after all).
        const p =
          r.status === "REQUIRES_ACTION" && r.abandoned
            ? await this.provider.cancelPayment(r.provider_payment_id)
            : await this.provider.retrievePayment(r.provider_payment_id);
        if (p && (p.status === "succeeded" || p.status === "failed")) {
          await this.applyPayment(r.id, p, "reconciler");
          applied++;
        } else {
          // Still open at the provider: move it to the back of the queue so one stuck order cannot starve the rest.
          await this.dataSource.query(`UPDATE wallet.recharge_orders SET updated_at = now() WHERE id = $1 AND status IN ('PENDING', 'REQUIRES_ACTION')`, [r.id]);
        }
      } catch (e) {
        logger.warn({ orderId: r.id, err: e instanceof Error ? e.message : String(e) }, "reconcile failed");
      }
    }
    return applied;
  }
}

// ------------------------------------------------------------------ helpers

async function recordEvent(m: EntityManager, orderId: string, from: string | null, to: string, source: Source, detail: unknown): Promise<void> {
  await m.query(`INSERT INTO wallet.recharge_order_events (order_id, from_status, to_status, source, detail) VALUES ($1, $2, $3, $4, $5)`, [
    orderId,
    from,
    to,
    source,
    detail === null ? null : JSON.stringify(detail),
  ]);
}

const ORDER_SELECT = `SELECT o.*, r.locale, to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_text
  FROM wallet.recharge_orders o JOIN wallet.regions r ON r.region = o.region`;

export function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function toOrder(r: any): OrderView {
  return {
    id: r.id,
    userId: r.user_id,
    status: r.status,
    packageId: r.package_id,
    region: r.region,
    coins: Number(r.coins),
    bonusCoins: Number(r.bonus_coins),
    amountMinor: Number(r.amount_minor),
    currency: r.currency.trim(),
    locale: r.locale,
    paymentMethodType: r.payment_method_type,
    failureCode: r.failure_code,
    nextAction: r.next_action ?? null,
    coinsReversed: r.coins_reversed === null ? null : Number(r.coins_reversed),
    debtRecorded: r.debt_recorded === null ? null : Number(r.debt_recorded),
    reversalReason: r.reversal_reason,
    refundedMinor: Number(r.refunded_minor ?? 0),
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
    completedAt: iso(r.completed_at),
    reversedAt: iso(r.reversed_at),
  };
}

function toRegion(r: any): RegionInfo {
  return {
    region: r.region,
    currency: r.currency.trim(),
    locale: r.locale,
    customPriceMinor: Number(r.custom_price_minor),
    customPriceCoins: Number(r.custom_price_coins),
    paymentMethods: r.payment_methods,
  };
}
