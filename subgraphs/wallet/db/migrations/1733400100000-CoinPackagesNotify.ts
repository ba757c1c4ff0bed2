import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Every change to what `coinPackages` answers (packages, their prices, promotions, a region's
 * currency or methods) NOTIFYs `wallet_coin_packages_changed` at commit, from statement-level
 * triggers (one notification per statement, whatever the rows; operator SQL included), so caches
 * of the public answer (the gateway's, gateway/public-fetches.ts) drop it at once. Admin changes are
 * rare: the NOTIFY's commit-time lock (docs/benchmarks.md) never sits on a hot path; recharge and
 * sendGift write none of these tables.
 */
const TABLES = ["coin_packages", "coin_package_prices", "coin_promotions", "regions"];

export class CoinPackagesNotify1733400100000 implements MigrationInterface {
  name = "CoinPackagesNotify1733400100000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION wallet.notify_coin_packages_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('wallet_coin_packages_changed', TG_TABLE_NAME);
        RETURN NULL;
      END $$`);
    for (const t of TABLES) {
      await q.query(`CREATE TRIGGER ${t}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON wallet.${t} FOR EACH STATEMENT EXECUTE FUNCTION wallet.notify_coin_packages_changed()`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of TABLES) await q.query(`DROP TRIGGER ${t}_notify ON wallet.${t}`);
    await q.query(`DROP FUNCTION wallet.notify_coin_packages_changed()`);
  }
}
