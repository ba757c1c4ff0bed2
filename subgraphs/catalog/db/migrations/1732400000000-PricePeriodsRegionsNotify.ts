import type { MigrationInterface, QueryRunner } from "typeorm";

/** Markets the platform sells in; an admin can only limit a gift to these. Operators add rows to open a market. */
const REGIONS: [string, string][] = [
  ["US", "United States"], ["CA", "Canada"], ["MX", "Mexico"], ["BR", "Brazil"], ["AR", "Argentina"], ["CO", "Colombia"],
  ["CL", "Chile"], ["PE", "Peru"], ["GB", "United Kingdom"], ["IE", "Ireland"], ["DE", "Germany"], ["FR", "France"],
  ["ES", "Spain"], ["IT", "Italy"], ["NL", "Netherlands"], ["BE", "Belgium"], ["PT", "Portugal"], ["PL", "Poland"],
  ["SE", "Sweden"], ["NO", "Norway"], ["DK", "Denmark"], ["FI", "Finland"], ["AT", "Austria"], ["CH", "Switzerland"],
  ["TR", "Türkiye"], ["UA", "Ukraine"], ["SA", "Saudi Arabia"], ["AE", "United Arab Emirates"], ["EG", "Egypt"],
  ["NG", "Nigeria"], ["ZA", "South Africa"], ["KE", "Kenya"], ["IN", "India"], ["PK", "Pakistan"], ["BD", "Bangladesh"],
  ["ID", "Indonesia"], ["MY", "Malaysia"], ["SG", "Singapore"], ["TH", "Thailand"], ["VN", "Vietnam"], ["PH", "Philippines"],
  ["JP", "Japan"], ["KR", "South Korea"], ["TW", "Taiwan"], ["HK", "Hong Kong"], ["AU", "Australia"], ["NZ", "New Zealand"],
];

/**
 * Prices move out of catalog.gifts into price periods: one row per price change, in force from
 * `effective_from` until the next row's `effective_from` (so periods of one gift can never overlap
 * or leave a gap). Scheduled changes are rows with a future `effective_from`: the price in force is
 * computed at read time, so no cron applies them. Every change to a gift or its prices NOTIFYs
 * `catalog_changed` (payload: the gift id) from a trigger, so caches hear about any change at
 * commit, including hand-written operator SQL.
 */
export class PricePeriodsRegionsNotify1732400000000 implements MigrationInterface {
  name = "PricePeriodsRegionsNotify1732400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE catalog.regions (
        code text PRIMARY KEY CHECK (code ~ '^[A-Z]{2}$'),
        name text NOT NULL
      )`);
    const values = REGIONS.map((_, i) => `($${i * 2 + 1}, $${i * 2 + 2})`).join(", ");
    await q.query(`INSERT INTO catalog.regions (code, name) VALUES ${values}`, REGIONS.flat());

    await q.query(`
      CREATE TABLE catalog.gift_prices (
        id bigserial PRIMARY KEY,
        gift_id uuid NOT NULL REFERENCES catalog.gifts(id),
        coin_cost integer NOT NULL CHECK (coin_cost BETWEEN 1 AND 1000000),
        effective_from timestamptz NOT NULL,
        reason text NOT NULL CHECK (reason IN ('INITIAL', 'UPDATE', 'SCHEDULED')),
        note text,
        changed_by text,
        created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
        UNIQUE (gift_id, effective_from)
      )`);
    await q.query(`
      INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason, note)
      SELECT id, coin_cost, created_at, 'INITIAL', 'price before price history was recorded' FROM catalog.gifts`);
    // One source of truth for the price: the periods. (Drops the old listing index with the column.)
    await q.query(`ALTER TABLE catalog.gifts DROP COLUMN coin_cost`);
    await q.query(`CREATE INDEX IF NOT EXISTS gifts_status_order ON catalog.gifts (status, sort_order)`);
    await q.query(`ALTER TABLE catalog.gifts ADD CONSTRAINT gifts_regions_not_empty CHECK (regions IS NULL OR cardinality(regions) > 0)`);

    await q.query(`
      CREATE FUNCTION catalog.notify_gift_changed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_TABLE_NAME = 'gifts' THEN
          PERFORM pg_notify('catalog_changed', COALESCE(NEW.id, OLD.id)::text);
        ELSE
          PERFORM pg_notify('catalog_changed', COALESCE(NEW.gift_id, OLD.gift_id)::text);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER gifts_notify AFTER INSERT OR UPDATE OR DELETE ON catalog.gifts FOR EACH ROW EXECUTE FUNCTION catalog.notify_gift_changed()`);
    await q.query(`CREATE TRIGGER gift_prices_notify AFTER INSERT OR UPDATE OR DELETE ON catalog.gift_prices FOR EACH ROW EXECUTE FUNCTION catalog.notify_gift_changed()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER gift_prices_notify ON catalog.gift_prices`);
    await q.query(`DROP TRIGGER gifts_notify ON catalog.gifts`);
    await q.query(`DROP FUNCTION catalog.notify_gift_changed()`);
    await q.query(`ALTER TABLE catalog.gifts DROP CONSTRAINT gifts_regions_not_empty`);
    await q.query(`ALTER TABLE catalog.gifts ADD COLUMN coin_cost integer`);
    await q.query(`
      UPDATE catalog.gifts g SET coin_cost = (
        SELECT p.coin_cost FROM catalog.gift_prices p WHERE p.gift_id = g.id AND p.effective_from <= now()
        ORDER BY p.effective_from DESC LIMIT 1)`);
    await q.query(`DROP TABLE catalog.gift_prices`);
    await q.query(`DROP TABLE catalog.regions`);
  }
}
