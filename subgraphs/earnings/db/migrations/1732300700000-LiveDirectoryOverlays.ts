import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The web app's needs: live sessions carry the host's region (the directory's region filter)
 * and a "busiest first" index over live ones; test gifts on the feed (`is_test`, never counted:
 * totals come from the consumer, not the feed); revocable overlay tokens (only a hash stored).
 */
export class LiveDirectoryOverlays1732300700000 implements MigrationInterface {
  name = "LiveDirectoryOverlays1732300700000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.live_sessions ADD COLUMN region text NOT NULL DEFAULT 'US' CHECK (region ~ '^[A-Z]{2}$')`);
    await q.query(`CREATE INDEX live_sessions_busiest ON earnings.live_sessions (coins_received DESC, unique_gifters DESC, id) WHERE status = 'LIVE'`);
    await q.query(`ALTER TABLE earnings.gift_feed ADD COLUMN is_test boolean NOT NULL DEFAULT false`);
    // A test gift moves nothing and belongs to no session (never on a room's public feed).
    await q.query(`ALTER TABLE earnings.gift_feed ADD CONSTRAINT gift_feed_test_moves_nothing
      CHECK (NOT is_test OR (coins = 0 AND diamonds = 0 AND live_session_id IS NULL AND kind = 'gift'))`);
    await q.query(`
      CREATE TABLE earnings.overlay_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        host_id text NOT NULL REFERENCES earnings.creators(id),
        -- sha256 of the token: the token itself is shown once and never stored
        token_hash text NOT NULL UNIQUE CHECK (length(token_hash) = 64),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      )`);
    await q.query(`CREATE INDEX overlay_tokens_host ON earnings.overlay_tokens (host_id, created_at DESC) WHERE revoked_at IS NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE earnings.overlay_tokens`);
    await q.query(`ALTER TABLE earnings.gift_feed DROP CONSTRAINT gift_feed_test_moves_nothing, DROP COLUMN is_test`);
    await q.query(`DROP INDEX earnings.live_sessions_busiest`);
    await q.query(`ALTER TABLE earnings.live_sessions DROP COLUMN region`);
  }
}
