import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Creators may receive gifts (adult claim from their token at creation/refresh) and go live.
 * Changes that the wallet's owner-read cache depends on NOTIFY `earnings_owner_read` from
 * triggers, so every write path invalidates — not only the ones that remember to.
 */
export class CreatorsLiveSessions1732300200000 implements MigrationInterface {
  name = "CreatorsLiveSessions1732300200000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.creators
      ADD COLUMN can_receive_gifts boolean NOT NULL DEFAULT false,
      ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()`);
    await q.query(`
      CREATE TABLE earnings.live_sessions (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        host_id text NOT NULL REFERENCES earnings.creators(id),
        title text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
        status text NOT NULL DEFAULT 'LIVE' CHECK (status IN ('LIVE', 'ENDED')),
        started_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz,
        gift_count bigint NOT NULL DEFAULT 0 CHECK (gift_count >= 0),
        coins_received bigint NOT NULL DEFAULT 0 CHECK (coins_received >= 0),
        diamonds_earned bigint NOT NULL DEFAULT 0 CHECK (diamonds_earned >= 0),
        unique_gifters integer NOT NULL DEFAULT 0 CHECK (unique_gifters >= 0),
        CHECK ((status = 'LIVE') = (ended_at IS NULL))
      )`);
    // One live session per host, enforced by the database (ALREADY_LIVE under races).
    await q.query(`CREATE UNIQUE INDEX live_sessions_one_live ON earnings.live_sessions (host_id) WHERE status = 'LIVE'`);
    await q.query(`CREATE INDEX live_sessions_host ON earnings.live_sessions (host_id, started_at DESC, id DESC)`);
    await q.query(`
      CREATE FUNCTION earnings.notify_owner_read() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_TABLE_NAME = 'creators' THEN
          PERFORM pg_notify('earnings_owner_read', 'creator:' || NEW.id);
        ELSE
          PERFORM pg_notify('earnings_owner_read', 'session:' || NEW.id::text);
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER creators_notify_insert AFTER INSERT ON earnings.creators
      FOR EACH ROW EXECUTE FUNCTION earnings.notify_owner_read()`);
    await q.query(`CREATE TRIGGER creators_notify_update AFTER UPDATE ON earnings.creators
      FOR EACH ROW WHEN (OLD.can_receive_gifts IS DISTINCT FROM NEW.can_receive_gifts) EXECUTE FUNCTION earnings.notify_owner_read()`);
    await q.query(`CREATE TRIGGER live_sessions_notify_insert AFTER INSERT ON earnings.live_sessions
      FOR EACH ROW EXECUTE FUNCTION earnings.notify_owner_read()`);
    await q.query(`CREATE TRIGGER live_sessions_notify_update AFTER UPDATE ON earnings.live_sessions
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION earnings.notify_owner_read()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE earnings.live_sessions`);
    await q.query(`DROP TRIGGER creators_notify_insert ON earnings.creators`);
    await q.query(`DROP TRIGGER creators_notify_update ON earnings.creators`);
    await q.query(`DROP FUNCTION earnings.notify_owner_read()`);
    await q.query(`ALTER TABLE earnings.creators DROP COLUMN can_receive_gifts, DROP COLUMN updated_at`);
  }
}
