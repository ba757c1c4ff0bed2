import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Payout operations (DECISIONS 50): retries with backoff on the payout row, the lifecycle as
 * events (what the host sees), holds per creator with their history, and one row per
 * scheduled run (a daily slot runs once across instances).
 */
export class PayoutOperations1733100200000 implements MigrationInterface {
  name = "PayoutOperations1733100200000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.payouts
      ADD COLUMN attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
      ADD COLUMN next_attempt_at timestamptz,
      ADD COLUMN last_error text,
      ADD COLUMN provider text,
      ADD COLUMN fee_minor bigint NOT NULL DEFAULT 0 CHECK (fee_minor >= 0)`);
    await q.query(`
      CREATE TABLE earnings.payout_events (
        id bigserial PRIMARY KEY,
        payout_id uuid NOT NULL REFERENCES earnings.payouts(id),
        from_status text,
        to_status text NOT NULL,
        note text NOT NULL DEFAULT '',
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX payout_events_by_payout ON earnings.payout_events (payout_id, id)`);
    await q.query(`INSERT INTO earnings.payout_events (payout_id, from_status, to_status, note, at) SELECT id, NULL, 'REQUESTED', 'requested', requested_at FROM earnings.payouts`);
    await q.query(`
      CREATE TABLE earnings.payout_holds (
        creator_id text PRIMARY KEY REFERENCES earnings.creators(id),
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
        held_by text NOT NULL,
        held_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE earnings.payout_hold_events (
        id bigserial PRIMARY KEY,
        creator_id text NOT NULL,
        action text NOT NULL CHECK (action IN ('HOLD', 'RELEASE')),
        reason text NOT NULL,
        actor text NOT NULL,
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE earnings.payout_runs (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slot timestamptz UNIQUE,
        trigger text NOT NULL CHECK (trigger IN ('SCHEDULED', 'MANUAL')),
        status text NOT NULL CHECK (status IN ('RUNNING', 'FINISHED')),
        started_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz,
        submitted integer NOT NULL DEFAULT 0,
        paid integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        retrying integer NOT NULL DEFAULT 0,
        resumed integer NOT NULL DEFAULT 0
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ["payout_runs", "payout_hold_events", "payout_holds", "payout_events"]) await q.query(`DROP TABLE earnings.${t}`);
    await q.query(`ALTER TABLE earnings.payouts DROP COLUMN attempts, DROP COLUMN next_attempt_at, DROP COLUMN last_error, DROP COLUMN provider, DROP COLUMN fee_minor`);
  }
}
