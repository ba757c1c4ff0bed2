import type { EntityManager } from "typeorm";
import { priceForCoins } from "../../../../platform/money.js";
import { packagesOnSale } from "../coin-package-reads.js";
import { DEFAULT_REGION, normalizeRegion } from "../regions.js";
import type { CoinPackageView, RegionInfo } from "./types.js";

/** What is for sale where: regions (currency, payment methods, custom-amount price) and their coin packages. */

type Q = Pick<EntityManager, "query">;

export async function allRegions(m: Q): Promise<RegionInfo[]> {
  const rows = await m.query(`SELECT * FROM wallet.regions ORDER BY region`);
  return rows.map(toRegion);
}

/** The region's pricing; an unsupported (well-formed) region falls back to the default region. */
export async function resolveRegion(m: Q, requested: string | null | undefined): Promise<RegionInfo> {
  const code = normalizeRegion(requested) ?? DEFAULT_REGION;
  const rows = await m.query(`SELECT * FROM wallet.regions WHERE region IN ($1, $2) ORDER BY region = $1 DESC`, [code, DEFAULT_REGION]);
  if (rows.length === 0) throw new Error("wallet.regions is not seeded");
  return toRegion(rows[0]);
}

export async function regionByCurrency(m: Q, currency: string): Promise<RegionInfo | null> {
  const [row] = await m.query(`SELECT * FROM wallet.regions WHERE currency = $1 ORDER BY region LIMIT 1`, [currency]);
  return row ? toRegion(row) : null;
}

export async function isSoldIn(m: Q, region: string): Promise<boolean> {
  const known = await m.query(`SELECT 1 FROM wallet.regions WHERE region = $1`, [region]);
  return known.length > 0;
}

/** Prices come from the package's price periods (domain/coin-package-reads.ts), the bonus from the best promotion in force. */
export function packagesIn(m: Q, region: RegionInfo, now: Date): Promise<CoinPackageView[]> {
  return packagesOnSale(m, region.region, now);
}

/** Price of a custom amount: the region's per-coin price, half-up to the minor unit. */
export function customPrice(region: RegionInfo, coins: number): number {
  return priceForCoins(coins, region.customPriceMinor, region.customPriceCoins);
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
