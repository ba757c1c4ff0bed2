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
        const id = packageId(r.region, Number(coins));
        const inserted = await m.query(
          `INSERT INTO wallet.coin_packages (id, region, coins, sort_order, created_by) VALUES ($1, $2, $3, $4, 'seed') ON CONFLICT (id) DO NOTHING RETURNING id`,
          [id, r.region, Number(coins), order],
        );
        // Prices live in periods (domain/coin-packages.ts): a new package starts with its INITIAL period.
        if (inserted.length) {
          await m.query(
            `INSERT INTO wallet.coin_package_prices (package_id, price_minor, currency, effective_from, reason, note, changed_by)
             SELECT $1, $2, $3, created_at, 'INITIAL', 'seed', 'seed' FROM wallet.coin_packages WHERE id = $1`,
            [id, price, r.currency],
          );
        }
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
