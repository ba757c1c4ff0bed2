import type { EntityManager } from "typeorm";
import { DomainError, ErrorCode } from "../../../platform/errors.js";
import type { CoinPackageView, RegionInfo } from "./recharge.js";

/**
 * Coin packages as they are read: the records (a package, its price periods, a promotion, an
 * audit row), the queries that price them at an instant, and the quote a recharge buys at. The
 * admin side that writes them (validation, audit, promotions) is coin-packages.ts.
 */

/** A package that cannot be bought as asked: the error carries what is on sale instead. */
export class OfferError extends DomainError {
  constructor(code: ErrorCode, message: string, readonly currentOffer: CoinPackageView[], field: string[]) {
    super(code, message, { field });
    this.name = "OfferError";
  }
}

export interface PackageRecord extends CoinPackageView {
  active: boolean;
  sortOrder: number;
  createdAt: string;
  retiredAt: string | null;
}

export interface PricePeriod {
  packageId: string;
  priceMinor: number;
  currency: string;
  locale: string;
  validFrom: string;
  validUntil: string | null;
  reason: "INITIAL" | "REPRICE" | "SCHEDULED";
  note: string;
  changedBy: string | null;
}

export interface PromotionRecord {
  id: string;
  coins: number;
  bonusCoins: number;
  startsAt: string;
  endsAt: string;
  endedAt: string | null;
  regions: string[];
  packageIds: string[];
  reason: string;
  createdBy: string | null;
}

export interface AuditRecord {
  id: string;
  at: string;
  actor: string;
  action: string;
  packageId: string | null;
  promotionId: string | null;
  reason: string;
  detail: Record<string, unknown>;
}

/** What the buyer was shown; a mismatch is answered with the current offer instead of charging something else. */
export interface Expectation {
  amountMinor?: number | null;
  bonusCoins?: number | null;
}

export type Q = Pick<EntityManager, "query">;
export const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

/** Lists active packages of a region with the price and the best promotion in force at `at`. */
export const PACKAGES_SQL = `
  SELECT p.id, p.region, p.coins, p.active, p.sort_order, p.created_at, p.retired_at, price.price_minor, r.currency, r.locale,
         promo.bonus_coins, promo.ends_at
    FROM wallet.coin_packages p
    JOIN wallet.regions r ON r.region = p.region
    LEFT JOIN LATERAL (
      SELECT price_minor FROM wallet.coin_package_prices
       WHERE package_id = p.id AND effective_from <= $2 ORDER BY effective_from DESC LIMIT 1) price ON true
    LEFT JOIN LATERAL (
      SELECT bonus_coins, ends_at FROM wallet.coin_promotions
       WHERE package_id = p.id AND starts_at <= $2 AND ends_at > $2
       ORDER BY bonus_coins DESC, ends_at LIMIT 1) promo ON true`;

export function toRecord(r: any): PackageRecord {
  return {
    id: r.id,
    region: r.region,
    coins: Number(r.coins),
    bonusCoins: Number(r.bonus_coins ?? 0),
    promotionEndsAt: r.ends_at ? new Date(r.ends_at).toISOString() : null,
    priceMinor: Number(r.price_minor),
    currency: r.currency.trim(),
    locale: r.locale,
    active: r.active,
    sortOrder: Number(r.sort_order),
    createdAt: iso(r.created_at)!,
    retiredAt: iso(r.retired_at),
  };
}

/** Active packages of a region at `at`, smallest first (the public list and the recharge lookup). */
export async function packagesOnSale(m: Q, region: string, at: Date): Promise<PackageRecord[]> {
  const rows = await m.query(`${PACKAGES_SQL} WHERE p.region = $1 AND p.active AND price.price_minor IS NOT NULL ORDER BY p.sort_order, p.coins`, [region, at]);
  return rows.map(toRecord);
}

/**
 * The package a recharge buys, as it is offered now, checked against what the buyer was shown.
 * Runs in the recharge's transaction; what it returns is stored on the order (the quoted price).
 */
export async function quotePackage(m: Q, region: RegionInfo, id: string, expected: Expectation, at = new Date()): Promise<CoinPackageView> {
  const onSale = await packagesOnSale(m, region.region, at);
  const pkg = onSale.find((p) => p.id === id);
  if (!pkg) {
    const [known] = await m.query(`SELECT retired_at FROM wallet.coin_packages WHERE id = $1 AND region = $2`, [id, region.region]);
    if (known?.retired_at) throw new OfferError(ErrorCode.PACKAGE_RETIRED, `coin package ${id} is no longer sold; see currentOffer`, onSale, ["input", "packageId"]);
    throw new DomainError(ErrorCode.NOT_FOUND, `no coin package ${id} for sale in ${region.region}`, { field: ["input", "packageId"] });
  }
  if (expected.bonusCoins !== undefined && expected.bonusCoins !== null && pkg.bonusCoins < expected.bonusCoins) {
    throw new OfferError(
      ErrorCode.PROMOTION_ENDED,
      `the promotion on ${id} has ended: ${pkg.bonusCoins} bonus coins now, ${expected.bonusCoins} expected; see currentOffer`,
      [pkg],
      ["input", "expectedBonusCoins"],
    );
  }
  if (expected.amountMinor !== undefined && expected.amountMinor !== null && pkg.priceMinor !== expected.amountMinor) {
    throw new OfferError(ErrorCode.PRICE_CHANGED, `the price of ${id} is now ${pkg.priceMinor} ${pkg.currency} (minor units); see currentOffer`, [pkg], ["input", "expectedAmountMinor"]);
  }
  return pkg;
}

export const PROMOTION_SQL = `
  SELECT pr.campaign_id, min(p.coins) AS coins, min(pr.bonus_coins) AS bonus_coins, min(pr.starts_at) AS starts_at, max(pr.ends_at) AS ends_at,
         max(pr.ended_at) AS ended_at, array_agg(DISTINCT p.region::text ORDER BY p.region::text) AS regions, array_agg(p.id ORDER BY p.region, p.id) AS package_ids,
         min(pr.reason) AS reason, min(pr.created_by) AS created_by
    FROM wallet.coin_promotions pr JOIN wallet.coin_packages p ON p.id = pr.package_id`;

export function toPromotion(r: any): PromotionRecord {
  return {
    id: r.campaign_id,
    coins: Number(r.coins),
    bonusCoins: Number(r.bonus_coins),
    startsAt: iso(r.starts_at)!,
    endsAt: iso(r.ends_at)!,
    endedAt: iso(r.ended_at),
    regions: r.regions,
    packageIds: r.package_ids,
    reason: r.reason,
    createdBy: r.created_by,
  };
}

export function toPeriod(r: any): PricePeriod {
  return {
    packageId: r.package_id,
    priceMinor: Number(r.price_minor),
    currency: r.currency.trim(),
    locale: r.locale,
    validFrom: iso(r.effective_from)!,
    validUntil: iso(r.valid_until),
    reason: r.reason,
    note: r.note,
    changedBy: r.changed_by,
  };
}
