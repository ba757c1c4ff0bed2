import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The wallet owns `User`: it keeps the latest public display name and avatar it saw in a user's
 * identity token, so leaderboards and gift senders can show "Alice" instead of "alice".
 * Written only when a value changes (see ProfileService), never once per request.
 */
export class UserProfiles1732300060000 implements MigrationInterface {
  name = "UserProfiles1732300060000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wallet.user_profiles (
        user_id text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 128),
        display_name text NOT NULL CHECK (length(display_name) <= 100),
        avatar_url text CHECK (length(avatar_url) <= 2048),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    // Senders before this table existed: their name at their latest send.
    await q.query(`
      INSERT INTO wallet.user_profiles (user_id, display_name)
      SELECT DISTINCT ON (sender_id) sender_id, sender_name FROM wallet.gift_events ORDER BY sender_id, sent_at DESC`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wallet.user_profiles`);
  }
}
