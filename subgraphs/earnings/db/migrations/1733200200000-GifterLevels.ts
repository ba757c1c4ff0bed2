import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Gifter levels (docs/engagement.md).
 * - `gifter_level_thresholds`: operator data, seeded here: level L (1–50) from 5 × (L−1)³ lifetime
 *   coins (1 at 0, 2 at 5, 10 at 3,645, 25 at 69,120, 50 at 588,245). Operators change rows with SQL
 *   (a new migration for a new curve); the consumer reads them each batch, so a change applies to
 *   the next gift. Levels are never lowered by a change for past events (events are immutable).
 * - `gifter_lifetime`: coins each sender has spent on gifts, as credited (anonymous gifts included),
 *   maintained by the gift consumer in the crediting transaction from fresh credits only.
 */
export class GifterLevels1733200200000 implements MigrationInterface {
  name = "GifterLevels1733200200000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE earnings.gifter_level_thresholds (
        level integer PRIMARY KEY CHECK (level BETWEEN 1 AND 50),
        min_coins bigint NOT NULL UNIQUE CHECK (min_coins >= 0),
        CHECK ((level = 1) = (min_coins = 0))
      )`);
    await q.query(`INSERT INTO earnings.gifter_level_thresholds (level, min_coins) SELECT l, 5 * (l - 1)::bigint ^ 3 FROM generate_series(1, 50) AS l`);
    await q.query(`
      CREATE TABLE earnings.gifter_lifetime (
        sender_id text PRIMARY KEY,
        coins bigint NOT NULL CHECK (coins >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE earnings.gifter_lifetime`);
    await q.query(`DROP TABLE earnings.gifter_level_thresholds`);
  }
}
