import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Partner webhooks (docs/partners.md "Webhooks").
 *
 * - `webhook_events`: the public events partners can subscribe to, in commit order. Written by
 *   triggers in the same transaction as the business row (a gift_feed append, a live session
 *   starting or ending), so an event exists exactly when its cause committed. Appends take one
 *   transaction-scoped advisory lock, so `seq` order is commit order and a dispatcher reading
 *   "seq > cursor" never skips a row that commits later (the same rule as gift_feed, DECISIONS 33).
 *   Nothing is written while no subscription exists (the hot gift path pays one EXISTS).
 * - `webhook_subscriptions`: one partner endpoint, its topics and filter, its secret, and its
 *   delivery state (cursor, failures, lease for one dispatcher at a time).
 * - `webhook_deliveries`: one row per attempt (status, latency) for the partner's delivery log.
 */
export class PartnerWebhooks1733100000000 implements MigrationInterface {
  name = "PartnerWebhooks1733100000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE earnings.webhook_events (
        seq bigserial PRIMARY KEY,
        topic text NOT NULL CHECK (topic IN ('LIVE_GIFT', 'LIVE_STARTED', 'LIVE_ENDED')),
        host_id text NOT NULL,
        live_session_id text,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhook_events_created ON earnings.webhook_events (created_at)`);
    await q.query(`
      CREATE TABLE earnings.webhook_subscriptions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        partner text NOT NULL,
        topics text[] NOT NULL CHECK (cardinality(topics) BETWEEN 1 AND 3),
        url text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
        live_session_id text,
        host_id text,
        secret text NOT NULL,
        status text NOT NULL DEFAULT 'VERIFICATION_PENDING'
          CHECK (status IN ('VERIFICATION_PENDING', 'ENABLED', 'VERIFICATION_FAILED', 'DISABLED', 'DELETED')),
        status_reason text,
        -- last event delivered (or skipped by the filter): the next delivery is the first matching seq after it
        cursor_seq bigint NOT NULL,
        -- bumped by replayWebhookEvents: redelivered events get new Webhook-Ids
        replay_generation integer NOT NULL DEFAULT 0,
        attempts integer NOT NULL DEFAULT 0,
        failing_since timestamptz,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        lease_owner text,
        lease_until timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhook_subscriptions_partner ON earnings.webhook_subscriptions (partner) WHERE status <> 'DELETED'`);
    await q.query(`CREATE INDEX webhook_subscriptions_due ON earnings.webhook_subscriptions (next_attempt_at) WHERE status IN ('VERIFICATION_PENDING', 'ENABLED')`);
    await q.query(`
      CREATE TABLE earnings.webhook_deliveries (
        id bigserial PRIMARY KEY,
        subscription_id uuid NOT NULL REFERENCES earnings.webhook_subscriptions (id),
        webhook_id text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('verification', 'event')),
        event_seq bigint,
        attempt integer NOT NULL,
        status_code integer,
        error text,
        latency_ms integer NOT NULL,
        delivered boolean NOT NULL,
        attempted_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhook_deliveries_subscription ON earnings.webhook_deliveries (subscription_id, id DESC)`);

    // One lock for every append: seq order = commit order (see the class comment).
    await q.query(`
      CREATE FUNCTION earnings.webhook_events_lock() RETURNS boolean LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM earnings.webhook_subscriptions WHERE status IN ('VERIFICATION_PENDING', 'ENABLED')) THEN
          RETURN false;
        END IF;
        PERFORM pg_advisory_xact_lock(hashtext('earnings:webhook_events:append'));
        RETURN true;
      END $$`);
    // Public fields only: what the partner contract's liveGiftFeed shows (no diamonds, no unit cost).
    await q.query(`
      CREATE FUNCTION earnings.webhook_events_from_feed() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NOT earnings.webhook_events_lock() THEN RETURN NULL; END IF;
        INSERT INTO earnings.webhook_events (topic, host_id, live_session_id, payload)
        SELECT 'LIVE_GIFT', n.host_id, n.live_session_id, jsonb_build_object(
                 'id', n.id, 'hostId', n.host_id, 'liveSessionId', n.live_session_id,
                 'senderId', n.sender_id, 'senderName', n.sender_name, 'giftId', n.gift_id,
                 'quantity', n.quantity, 'coins', n.coins, 'comboId', n.combo_id,
                 'comboCount', n.combo_count, 'comboEnded', n.combo_ended,
                 'sentAt', to_char(n.sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
          FROM new_rows n
         ORDER BY n.seq;
        PERFORM pg_notify('earnings_webhook_events', '');
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER gift_feed_webhook_events AFTER INSERT ON earnings.gift_feed
        REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION earnings.webhook_events_from_feed()`);
    await q.query(`
      CREATE FUNCTION earnings.webhook_events_from_session() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN RETURN NULL; END IF;
        IF NOT earnings.webhook_events_lock() THEN RETURN NULL; END IF;
        INSERT INTO earnings.webhook_events (topic, host_id, live_session_id, payload)
        VALUES (CASE WHEN NEW.status = 'LIVE' THEN 'LIVE_STARTED' ELSE 'LIVE_ENDED' END, NEW.host_id, NEW.id::text,
                jsonb_build_object('liveSessionId', NEW.id::text, 'hostId', NEW.host_id, 'title', NEW.title, 'status', NEW.status,
                  'startedAt', to_char(NEW.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                  'endedAt', to_char(NEW.ended_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')));
        PERFORM pg_notify('earnings_webhook_events', '');
        RETURN NULL;
      END $$`);
    await q.query(`
      CREATE TRIGGER live_sessions_webhook_events AFTER INSERT OR UPDATE OF status ON earnings.live_sessions
        FOR EACH ROW EXECUTE FUNCTION earnings.webhook_events_from_session()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER IF EXISTS live_sessions_webhook_events ON earnings.live_sessions`);
    await q.query(`DROP TRIGGER IF EXISTS gift_feed_webhook_events ON earnings.gift_feed`);
    await q.query(`DROP FUNCTION IF EXISTS earnings.webhook_events_from_session(), earnings.webhook_events_from_feed(), earnings.webhook_events_lock()`);
    await q.query(`DROP TABLE IF EXISTS earnings.webhook_deliveries, earnings.webhook_subscriptions, earnings.webhook_events`);
  }
}
