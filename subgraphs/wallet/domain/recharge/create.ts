import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { AuthUser } from "../../../../platform/auth.js";
import { DomainError, ErrorCode, badInput } from "../../../../platform/errors.js";
import { quotePackage } from "../coin-package-reads.js";
import { requestHash, validateIdempotencyKey } from "../idempotency.js";
import { enforceLimits } from "../recharge-limits.js";
import { MAX_CUSTOM_COINS, MIN_CUSTOM_COINS, PAYMENT_METHOD_TYPES, normalizeRegion, type PaymentMethodType } from "../regions.js";
import { customPrice, isSoldIn, regionByCurrency, resolveRegion } from "./catalogue.js";
import { recordEvent } from "./machine.js";
import { awaitOrResume, drive } from "./drive.js";
import { readOrder } from "./orders.js";
import { INITIAL_STATUS } from "./transitions.js";
import type { OrderView, RechargeCore, RechargeRequest, RegionInfo } from "./types.js";

/**
 * The `recharge` mutation: creates (or finds, by idempotency key) the order and drives it through
 * the provider. Business failures before anything is stored are DomainErrors; a declined payment
 * is a stored FAILED order (the replay answers the same).
 */

const MAX_TOKEN_LENGTH = 256;

/** What an order is for: coins at a price, from a package or a custom amount. */
interface Priced {
  packageId: string | null;
  coins: number;
  bonusCoins: number;
  amountMinor: number;
}

export async function placeOrder(core: RechargeCore, user: AuthUser, input: RechargeRequest): Promise<OrderView> {
  const key = checkRequest(input);
  if (!user.adult) throw new DomainError(ErrorCode.NOT_ADULT, "only adults can buy coins", { field: ["input"] });
  const region = await buyerRegion(core, user, input);
  const hash = requestHash("recharge", {
    packageId: input.packageId ?? null,
    customCoins: input.customCoins ?? null,
    region: region.region,
    method: input.paymentMethod.type,
    token: input.paymentMethod.token,
  });

  // Fast path for retries: an existing order answers without queueing on the per-user lock.
  const [known] = await core.dataSource.query(`SELECT id, request_hash FROM wallet.recharge_orders WHERE user_id = $1 AND idempotency_key = $2`, [user.id, key]);
  if (known) {
    if (known.request_hash !== hash) throw keyReused();
    return awaitOrResume(core, known.id, user.id, input.paymentMethod);
  }

  const created = await core.inFlight.serializedPerUser(user.id, () => createOrder(core, user, input, region, key, hash));
  if (!created.fresh) return awaitOrResume(core, created.id, user.id, input.paymentMethod);
  await drive(core, created.id, user.id, input.paymentMethod);
  return (await readOrder(core.dataSource, created.id))!;
}

/** Malformed input is BAD_USER_INPUT before anything else; returns the idempotency key. */
function checkRequest(input: RechargeRequest): string {
  const key = validateIdempotencyKey(input.idempotencyKey);
  if (hasPackage(input) === hasCustomCoins(input)) throw badInput("give exactly one of packageId or customCoins", ["input"]);
  const token = input.paymentMethod?.token;
  if (typeof token !== "string" || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
    throw badInput(`paymentMethod.token must be 1..${MAX_TOKEN_LENGTH} characters`, ["input", "paymentMethod", "token"]);
  }
  if (!PAYMENT_METHOD_TYPES.includes(input.paymentMethod.type as PaymentMethodType)) throw badInput("unknown payment method type", ["input", "paymentMethod", "type"]);
  if (input.region !== undefined && input.region !== null && normalizeRegion(input.region) === null) {
    throw badInput("region must be an ISO 3166 alpha-2 code", ["input", "region"]);
  }
  return key;
}

const hasPackage = (input: RechargeRequest) => input.packageId !== undefined && input.packageId !== null;
const hasCustomCoins = (input: RechargeRequest) => input.customCoins !== undefined && input.customCoins !== null;

const keyReused = () => new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used with a different request", { field: ["input", "idempotencyKey"] });

/** Coins are sold at the account's region's prices; an explicit region must agree (the client shows what it will charge). */
async function buyerRegion(core: RechargeCore, user: AuthUser, input: RechargeRequest): Promise<RegionInfo> {
  const region = await resolveRegion(core.dataSource, user.region);
  const asked = input.region ? normalizeRegion(input.region) : null;
  if (input.region && asked !== region.region) {
    if (!(await isSoldIn(core.dataSource, asked!))) throw new DomainError(ErrorCode.UNKNOWN_REGION, `coins are not sold in region ${asked}`, { field: ["input", "region"] });
    throw new DomainError(ErrorCode.INVALID_INPUT, `your account buys at ${region.region} prices, not ${asked}`, { field: ["input", "region"] });
  }
  return region;
}

/**
 * One recharge decision per user at a time (advisory lock): the key is claimed, limits are
 * checked and the order inserted atomically. Inside this transaction every query goes through
 * `m`: taking a second pool connection while holding the lock would deadlock the pool under a burst.
 */
function createOrder(core: RechargeCore, user: AuthUser, input: RechargeRequest, region: RegionInfo, key: string, hash: string): Promise<{ id: string; fresh: boolean }> {
  return core.dataSource.transaction(async (m) => {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('wallet:recharge:' || $1))`, [user.id]);
    const id = randomUUID();
    const existing = await claimKey(core, m, user.id, key, hash, id);
    if (existing) return { id: existing, fresh: false };
    if (!region.paymentMethods.includes(input.paymentMethod.type as PaymentMethodType)) {
      throw new DomainError(ErrorCode.PAYMENT_METHOD_NOT_AVAILABLE, `${input.paymentMethod.type} is not available in ${region.region}`, { field: ["input", "paymentMethod", "type"] });
    }
    const priced = await priceOrder(m, region, input);
    await enforceLimits(m, user.id, { coins: priced.coins, amountMinor: priced.amountMinor, currency: region.currency }, core.velocity, async (currency) => {
      const r = await regionByCurrency(m, currency);
      return r && { numerator: r.customPriceMinor, denominator: r.customPriceCoins };
    });
    await insertOrder(core, m, { id, userId: user.id, key, hash, region, method: input.paymentMethod.type, ...priced });
    return { id, fresh: true };
  });
}

/**
 * Claims the key first, in the per-user key space shared with sendGift. ON CONFLICT waits for a
 * concurrent sendGift holding the same key and then sees its row: the loser answers
 * IDEMPOTENCY_KEY_REUSED, never a unique violation (a plain INSERT after a SELECT raced there).
 * The same statement takes the durable per-user recharge token, only for a newly claimed key (a
 * replay never does); a refusal or any failure later rolls it back with the key.
 * Returns null when claimed, or the id of the order an earlier identical request created.
 */
async function claimKey(core: RechargeCore, m: EntityManager, userId: string, key: string, hash: string, orderId: string): Promise<string | null> {
  const [{ claimed, admitted }]: { claimed: boolean; admitted: boolean }[] = await m.query(
    `WITH claimed AS (
       INSERT INTO wallet.idempotency_keys (user_id, key, operation, request_hash, response) VALUES ($1, $2, 'recharge', $3, $4)
       ON CONFLICT (user_id, key) DO NOTHING RETURNING 1),
     token AS (${core.limiter.claimSql(5, "EXISTS (SELECT 1 FROM claimed)")})
     SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, EXISTS (SELECT 1 FROM token) AS admitted`,
    [userId, key, hash, JSON.stringify({ orderId }), ...core.limiter.claimParams(userId, "recharge")],
  );
  if (claimed && !admitted) throw await core.limiter.refusal(m, userId, "recharge");
  if (claimed) return null;
  const [keyRow] = await m.query(`SELECT operation, request_hash FROM wallet.idempotency_keys WHERE user_id = $1 AND key = $2`, [userId, key]);
  if (keyRow.operation !== "recharge" || keyRow.request_hash !== hash) throw keyReused();
  const [existing] = await m.query(`SELECT id FROM wallet.recharge_orders WHERE user_id = $1 AND idempotency_key = $2`, [userId, key]);
  return existing.id as string;
}

/** A package as quoted now (retired, ended promotion or changed price: a typed error with the current offer), or a custom amount. */
async function priceOrder(m: EntityManager, region: RegionInfo, input: RechargeRequest): Promise<Priced> {
  if (hasPackage(input)) {
    const pkg = await quotePackage(m, region, input.packageId!, { amountMinor: input.expectedAmountMinor, bonusCoins: input.expectedBonusCoins });
    return { packageId: pkg.id, coins: pkg.coins, bonusCoins: pkg.bonusCoins, amountMinor: pkg.priceMinor };
  }
  const coins = input.customCoins!;
  if (!Number.isInteger(coins) || coins < MIN_CUSTOM_COINS || coins > MAX_CUSTOM_COINS) {
    throw new DomainError(ErrorCode.INVALID_INPUT, `customCoins must be between ${MIN_CUSTOM_COINS} and ${MAX_CUSTOM_COINS}`, { field: ["input", "customCoins"] });
  }
  return { packageId: null, coins, bonusCoins: 0, amountMinor: customPrice(region, coins) };
}

interface NewOrder extends Priced {
  id: string;
  userId: string;
  key: string;
  hash: string;
  region: RegionInfo;
  method: string;
}

async function insertOrder(core: RechargeCore, m: EntityManager, o: NewOrder): Promise<void> {
  await m.query(
    `INSERT INTO wallet.recharge_orders (id, user_id, idempotency_key, request_hash, status, package_id, region, coins, bonus_coins,
                                         amount_minor, currency, payment_method_type, provider)
     VALUES ($1, $2, $3, $4, $13, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [o.id, o.userId, o.key, o.hash, o.packageId, o.region.region, o.coins, o.bonusCoins, o.amountMinor, o.region.currency, o.method, core.provider.name, INITIAL_STATUS],
  );
  await recordEvent(m, o.id, null, INITIAL_STATUS, "api", { amountMinor: o.amountMinor, currency: o.region.currency, coins: o.coins, bonusCoins: o.bonusCoins });
}
