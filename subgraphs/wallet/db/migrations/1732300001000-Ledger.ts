import type { MigrationInterface, QueryRunner } from "typeorm";

export class Ledger1732300001000 implements MigrationInterface {
  name = "Ledger1732300001000";

  async up(q: QueryRunner): Promise<void> {
    // Append-only: every change to accounts.coins or accounts.debt has exactly one row here.
    await q.query(`
      CREATE TABLE wallet.ledger_entries (
        id bigserial PRIMARY KEY,
        user_id text NOT NULL REFERENCES wallet.accounts(user_id),
        type text NOT NULL,
        amount bigint NOT NULL,
        balance_after bigint NOT NULL CHECK (balance_after >= 0),
        debt_change bigint NOT NULL DEFAULT 0,
        debt_after bigint NOT NULL DEFAULT 0 CHECK (debt_after >= 0),
        reference text,
        created_at timestamptz NOT NULL DEFAULT now(),
        CHECK (amount <> 0 OR debt_change <> 0)
      )`);
    await q.query(`CREATE INDEX ledger_by_user ON wallet.ledger_entries (user_id, id DESC)`);
    await q.query(`
      CREATE FUNCTION wallet.ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'wallet.ledger_entries is append-only'; END $$`);
    await q.query(`CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON wallet.ledger_entries FOR EACH ROW EXECUTE FUNCTION wallet.ledger_is_append_only()`);
    // Idempotency keys are per user and kept (never purged in-band; an operator job may purge > 30 days).
    await q.query(`
      CREATE TABLE wallet.idempotency_keys (
        user_id text NOT NULL,
        key text NOT NULL CHECK (length(key) BETWEEN 1 AND 128),
        operation text NOT NULL,
        request_hash text NOT NULL,
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, key)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wallet.idempotency_keys`);
    await q.query(`DROP TABLE wallet.ledger_entries`);
    await q.query(`DROP FUNCTION wallet.ledger_is_append_only()`);
  }
}
