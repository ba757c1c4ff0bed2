import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Gifts on videos and anonymous gifts (docs/engagement.md).
 * - `video_gift_totals`: per (creator, video) totals, maintained by the gift consumer per batch.
 * - The partner webhook trigger (1733100000000) is replaced so an anonymous gift never names its
 *   sender (senderId null, senderName "Anonymous", anonymous true) and the event carries the
 *   public engagement fields (message, videoId, goal progress, the sender's level when shown).
 */
export class GiftEngagement1733200100000 implements MigrationInterface {
  name = "GiftEngagement1733200100000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE earnings.video_gift_totals (
        host_id text NOT NULL,
        video_id text NOT NULL CHECK (length(video_id) BETWEEN 1 AND 128),
        coins bigint NOT NULL CHECK (coins >= 0),
        gifts bigint NOT NULL CHECK (gifts > 0),
        first_gift_at timestamptz NOT NULL,
        last_gift_at timestamptz NOT NULL,
        PRIMARY KEY (host_id, video_id)
      )`);
    await q.query(`CREATE INDEX video_gift_totals_rank ON earnings.video_gift_totals (host_id, coins DESC)`);
    await q.query(`
      CREATE OR REPLACE FUNCTION earnings.webhook_events_from_feed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT earnings.webhook_events_lock() THEN RETURN NULL; END IF;
        INSERT INTO earnings.webhook_events (topic, host_id, live_session_id, payload)
        SELECT 'LIVE_GIFT', n.host_id, n.live_session_id, jsonb_build_object(
                 'id', n.id, 'hostId', n.host_id, 'liveSessionId', n.live_session_id,
                 'senderId', CASE WHEN a.anon THEN NULL ELSE n.sender_id END,
                 'senderName', CASE WHEN a.anon THEN 'Anonymous' ELSE n.sender_name END,
                 'anonymous', a.anon,
                 'giftId', n.gift_id,
                 'quantity', n.quantity, 'coins', n.coins, 'comboId', n.combo_id,
                 'comboCount', n.combo_count, 'comboEnded', n.combo_ended,
                 'message', n.engagement->>'message', 'videoId', n.engagement->>'videoId',
                 'goalProgress', COALESCE(n.engagement->'goals', '[]'::jsonb),
                 'senderLevel', CASE WHEN a.anon THEN NULL ELSE (n.engagement->>'senderLevel')::int END,
                 'sentAt', to_char(n.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
          FROM new_rows n
          CROSS JOIN LATERAL (SELECT COALESCE((n.engagement->>'anonymous')::boolean, false) AS anon) a
         ORDER BY n.seq;
        PERFORM pg_notify('earnings_webhook_events', '');
        RETURN NULL;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE earnings.video_gift_totals`);
  }
}
