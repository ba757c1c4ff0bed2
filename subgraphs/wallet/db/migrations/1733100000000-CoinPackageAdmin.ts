import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Coin packages managed by admins (DECISIONS 48): prices move into periods (one row per change,
 * in force until the next row starts, like catalog.gift_prices), packages can be retired,
 * promotions are grouped into campaigns that can be ended, and every admin change has an
 * append-only audit row (who, when, why).
 */
export class CoinPackageAdmin1733100000000 implements MigrationInterface {
  name = "CoinPackageAdmin1733100000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wallet.coin_package_prices (
        id bigserial PRIMARY KEY,
        package_id text NOT NULL REFERENCES wallet.coin_packages(id),
        price_minor bigint NOT NULL CHECK (price_minor > 0),
        currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        effective_from timestamptz NOT NULL,
        reason text NOT NULL CHECK (reason IN ('INITIAL', 'REPRICE', 'SCHEDULED')),
        note text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
        changed_by text,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (package_id, effective_from)
      )`);
    // Backfill: every existing package's price has been in force since the package was created.
    await q.query(`
      INSERT INTO wallet.coin_package_prices (package_id, price_minor, currency, effective_from, reason, note)
      SELECT p.id, p.price_minor, r.currency, p.created_at, 'INITIAL', 'backfilled from coin_packages.price_minor'
        FROM wallet.coin_packages p JOIN wallet.regions r ON r.region = p.region`);
    // One source of truth: the price in force is read from the periods.
    await q.query(`ALTER TABLE wallet.coin_packages DROP COLUMN price_minor`);
    await q.query(`ALTER TABLE wallet.coin_packages
      ADD COLUMN retired_at timestamptz,
      ADD COLUMN retired_by text,
      ADD COLUMN created_by text,
      ADD CONSTRAINT coin_packages_retired_inactive CHECK (retired_at IS NULL OR NOT active)`);

    // Promotions: rows per package, grouped by campaign (one admin action may cover several regions).
    await q.query(`ALTER TABLE wallet.coin_promotions
      ADD COLUMN campaign_id uuid NOT NULL DEFAULT gen_random_uuid(),
      ADD COLUMN created_by text,
      ADD COLUMN reason text NOT NULL DEFAULT '',
      ADD COLUMN ended_at timestamptz,
      ADD COLUMN ended_by text`);
    // Ending a promotion that has not started leaves an empty window [starts_at, starts_at).
    await q.query(`ALTER TABLE wallet.coin_promotions DROP CONSTRAINT coin_promotions_check`);
    await q.query(`ALTER TABLE wallet.coin_promotions ADD CONSTRAINT coin_promotions_window CHECK (ends_at >= starts_at)`);
    await q.query(`CREATE INDEX coin_promotions_by_campaign ON wallet.coin_promotions (campaign_id)`);

    await q.query(`
      CREATE TABLE wallet.coin_package_audit (
        id bigserial PRIMARY KEY,
        at timestamptz NOT NULL DEFAULT now(),
        actor text NOT NULL CHECK (length(actor) BETWEEN 1 AND 128),
        action text NOT NULL CHECK (action IN ('CREATE', 'REPRICE', 'SCHEDULE_PRICE', 'RETIRE', 'SCHEDULE_PROMOTION', 'END_PROMOTION')),
        package_id text REFERENCES wallet.coin_packages(id),
        campaign_id uuid,
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
        detail jsonb NOT NULL DEFAULT '{}'
      )`);
    await q.query(`CREATE INDEX coin_package_audit_by_package ON wallet.coin_package_audit (package_id, id DESC)`);
    await q.query(`
      CREATE FUNCTION wallet.coin_package_audit_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'wallet.coin_package_audit is append-only'; END $$`);
    await q.query(`CREATE TRIGGER coin_package_audit_append_only BEFORE UPDATE OR DELETE ON wallet.coin_package_audit FOR EACH ROW EXECUTE FUNCTION wallet.coin_package_audit_is_append_only()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wallet.coin_package_audit`);
    await q.query(`DROP FUNCTION wallet.coin_package_audit_is_append_only()`);
    await q.query(`DROP INDEX wallet.coin_promotions_by_campaign`);
    await q.query(`ALTER TABLE wallet.coin_promotions DROP CONSTRAINT coin_promotions_window`);
    await q.query(`ALTER TABLE wallet.coin_promotions DROP COLUMN campaign_id, DROP COLUMN created_by, DROP COLUMN reason, DROP COLUMN ended_at, DROP COLUMN ended_by`);
    await q.query(`ALTER TABLE wallet.coin_packages DROP CONSTRAINT coin_packages_retired_inactive, DROP COLUMN retired_at, DROP COLUMN retired_by, DROP COLUMN created_by`);
    await q.query(`ALTER TABLE wallet.coin_packages ADD COLUMN price_minor bigint`);
    await q.query(`UPDATE wallet.coin_packages p SET price_minor = (SELECT price_minor FROM wallet.coin_package_prices WHERE package_id = p.id AND effective_from <= now() ORDER BY effective_from DESC LIMIT 1)`);
    await q.query(`DROP TABLE wallet.coin_package_prices`);
  }
}
