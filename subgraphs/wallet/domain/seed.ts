import type { DataSource } from "typeorm";
import { PROMOTION_SEED, REGION_SEED, packageId } from "./regions.js";

/**
 * Seeds regions and coin packages (insert-if-missing, so new regions ship with a deploy) and
 * the launch promotions once. Advisory-locked: concurrent starters do not race.
 */
export async function seedWallet(ds: DataSource): Promise<void> {
  await ds.transaction(async (m) => {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('seed:wallet'))`);
    for (const r of REGION_SEED) {
      await m.query(
        `INSERT INTO wallet.regions (region, currency, locale, custom_price_minor, custom_price_coins, payment_methods)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (region) DO NOTHING`,
        [r.region, r.currency, r.locale, r.customPriceMinor, r.customPriceCoins, r.paymentMethods],
      );
      let order = 0;
      for (const [coins, price] of Object.entries(r.packages)) {
        order += 10;
        await m.query(
          `INSERT INTO wallet.coin_packages (id, region, coins, price_minor, sort_order) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`,
          [packageId(r.region, Number(coins)), r.region, Number(coins), price, order],
        );
      }
    }
    const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM wallet.coin_promotions`);
    if (n === 0) {
      for (const r of REGION_SEED) {
        for (const p of PROMOTION_SEED) {
          await m.query(
            `INSERT INTO wallet.coin_promotions (package_id, bonus_coins, starts_at, ends_at) VALUES ($1, $2, now(), now() + interval '30 days')`,
            [packageId(r.region, p.coins), p.bonusCoins],
          );
        }
      }
    }
  });
}
