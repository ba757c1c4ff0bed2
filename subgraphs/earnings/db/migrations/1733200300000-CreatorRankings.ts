import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Platform-wide creator rankings (docs/engagement.md).
 * - `creators.region`: the region claim of the creator's token when they last acted as a host
 *   (null for creators who have not since this migration): what `creatorRankings(region)` filters on.
 * - `creator_period_totals`: diamonds and coins per (calendar scope, creator), maintained by the gift
 *   consumer per batch; backfilled here from the per-gifter aggregates, which hold the same sums.
 */
export class CreatorRankings1733200300000 implements MigrationInterface {
  name = "CreatorRankings1733200300000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.creators ADD COLUMN region text CHECK (region ~ '^[A-Z]{2}$')`);
    await q.query(`
      CREATE TABLE earnings.creator_period_totals (
        scope text NOT NULL,
        creator_id text NOT NULL,
        diamonds bigint NOT NULL CHECK (diamonds >= 0),
        coins bigint NOT NULL CHECK (coins >= 0),
        last_gift_at timestamptz NOT NULL,
        PRIMARY KEY (scope, creator_id)
      )`);
    await q.query(`CREATE INDEX creator_period_totals_rank ON earnings.creator_period_totals (scope, diamonds DESC, last_gift_at, creator_id)`);
    await q.query(`
      INSERT INTO earnings.creator_period_totals (scope, creator_id, diamonds, coins, last_gift_at)
      SELECT scope, host_id, sum(diamonds), sum(coins), max(last_gift_at) FROM earnings.gifter_totals WHERE scope NOT LIKE 'S:%' GROUP BY scope, host_id`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE earnings.creator_period_totals`);
    await q.query(`ALTER TABLE earnings.creators DROP COLUMN region`);
  }
}
