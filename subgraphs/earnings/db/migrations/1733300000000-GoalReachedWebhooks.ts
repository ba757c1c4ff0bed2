import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Partner webhooks gain the GOAL_REACHED topic: a trigger on `live_goals` writes the event in the
 * same transaction that sets `reached_at` (which happens exactly once per goal, DECISIONS 66), under
 * the same append lock as every webhook event (seq = commit order, DECISIONS 46).
 */
export class GoalReachedWebhooks1733300000000 implements MigrationInterface {
  name = "GoalReachedWebhooks1733300000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.webhook_events DROP CONSTRAINT webhook_events_topic_check`);
    await q.query(`ALTER TABLE earnings.webhook_events ADD CONSTRAINT webhook_events_topic_check CHECK (topic IN ('LIVE_GIFT', 'LIVE_STARTED', 'LIVE_ENDED', 'GOAL_REACHED'))`);
    await q.query(`ALTER TABLE earnings.webhook_subscriptions DROP CONSTRAINT webhook_subscriptions_topics_check`);
    await q.query(`ALTER TABLE earnings.webhook_subscriptions ADD CONSTRAINT webhook_subscriptions_topics_check CHECK (cardinality(topics) BETWEEN 1 AND 4)`);
    await q.query(`
      CREATE FUNCTION earnings.webhook_events_from_goal() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.reached_at IS NULL OR OLD.reached_at IS NOT NULL THEN RETURN NULL; END IF;
        -- The feed lock first, as every feed append takes it before the webhook lock (one lock order, no deadlock).
        PERFORM pg_advisory_xact_lock(hashtext('earnings:gift_feed:append'));
        IF NOT earnings.webhook_events_lock() THEN RETURN NULL; END IF;
        INSERT INTO earnings.webhook_events (topic, host_id, live_session_id, payload)
        VALUES ('GOAL_REACHED', NEW.host_id, NEW.live_session_id::text,
                jsonb_build_object('goalId', NEW.id::text, 'liveSessionId', NEW.live_session_id::text, 'hostId', NEW.host_id,
                  'title', NEW.title, 'targetCoins', NEW.target, 'giftId', NEW.gift_id, 'progressCoins', NEW.progress,
                  'reachedAt', to_char(NEW.reached_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
        PERFORM pg_notify('earnings_webhook_events', '');
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER live_goals_webhook_events AFTER UPDATE OF reached_at ON earnings.live_goals
        FOR EACH ROW EXECUTE FUNCTION earnings.webhook_events_from_goal()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS live_goals_webhook_events ON earnings.live_goals`);
    await q.query(`DROP FUNCTION IF EXISTS earnings.webhook_events_from_goal()`);
    await q.query(`ALTER TABLE earnings.webhook_subscriptions DROP CONSTRAINT webhook_subscriptions_topics_check`);
    await q.query(`ALTER TABLE earnings.webhook_subscriptions ADD CONSTRAINT webhook_subscriptions_topics_check CHECK (cardinality(topics) BETWEEN 1 AND 3)`);
    await q.query(`ALTER TABLE earnings.webhook_events DROP CONSTRAINT webhook_events_topic_check`);
    await q.query(`ALTER TABLE earnings.webhook_events ADD CONSTRAINT webhook_events_topic_check CHECK (topic IN ('LIVE_GIFT', 'LIVE_STARTED', 'LIVE_ENDED'))`);
  }
}
