import type { MigrationInterface, QueryRunner } from "typeorm";

/** A gift's message, anonymity and video (docs/engagement.md). Nullable/defaulted: existing rows are unchanged. */
export class GiftEngagement1733200000000 implements MigrationInterface {
  name = "GiftEngagement1733200000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wallet.gift_events
      ADD COLUMN message text CHECK (char_length(message) BETWEEN 1 AND 150),
      ADD COLUMN anonymous boolean NOT NULL DEFAULT false,
      ADD COLUMN video_id text CHECK (length(video_id) BETWEEN 1 AND 128),
      ADD CONSTRAINT gift_events_video_or_session CHECK (video_id IS NULL OR live_session_id IS NULL)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wallet.gift_events DROP CONSTRAINT gift_events_video_or_session, DROP COLUMN video_id, DROP COLUMN anonymous, DROP COLUMN message`);
  }
}
