import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * LIVE goals (docs/engagement.md) and the feed's engagement column.
 *
 * - `live_goals`: a host's goal bar in one live session. `progress` is maintained by the gift
 *   consumer in the crediting transaction (domain/goals.ts), from freshly credited gifts only, so
 *   it is exactly the sum over the goal's life; `reached_at` is set once, by the update that
 *   crosses the target (COALESCE keeps the first), and never cleared.
 * - `gift_feed.engagement`: per-event extras the streams show (goal progress this gift caused,
 *   the sender's gifter level and level-up, message, anonymity, video). One nullable jsonb column:
 *   old rows and old readers are unaffected, and no new row kinds are needed (cursors unchanged).
 */
export class LiveGoals1733200000000 implements MigrationInterface {
  name = "LiveGoals1733200000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE earnings.live_goals (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        live_session_id uuid NOT NULL REFERENCES earnings.live_sessions (id),
        host_id text NOT NULL,
        title text NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
        -- coins, or (gift_id set) a count of that gift
        target bigint NOT NULL CHECK (target BETWEEN 1 AND 2147483647),
        gift_id text CHECK (length(gift_id) BETWEEN 1 AND 128),
        progress bigint NOT NULL DEFAULT 0 CHECK (progress >= 0),
        reached_at timestamptz,
        reached_by text,
        ends_at timestamptz,
        canceled_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK (reached_at IS NULL OR progress >= target),
        CHECK (ends_at IS NULL OR ends_at > created_at)
      )`);
    await q.query(`CREATE INDEX live_goals_session ON earnings.live_goals (live_session_id, created_at)`);
    await q.query(`ALTER TABLE earnings.gift_feed ADD COLUMN engagement jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.gift_feed DROP COLUMN engagement`);
    await q.query(`DROP TABLE earnings.live_goals`);
  }
}
