import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The money side of earnings: revenue-share history, per-gift credits (the exactly-once
 * record of every consumed gift.sent), the append-only diamonds ledger with the balance
 * on the creator row (CHECK >= 0), leaderboard aggregates, payouts and idempotency keys.
 */
export class DiamondsLedgerPayouts1732300300000 implements MigrationInterface {
  name = "DiamondsLedgerPayouts1732300300000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.creators
      ADD COLUMN diamonds bigint NOT NULL DEFAULT 0 CONSTRAINT creators_diamonds_non_negative CHECK (diamonds >= 0),
      ADD COLUMN lifetime_diamonds bigint NOT NULL DEFAULT 0 CHECK (lifetime_diamonds >= 0),
      ADD COLUMN gifts_received bigint NOT NULL DEFAULT 0 CHECK (gifts_received >= 0),
      ADD COLUMN coins_received bigint NOT NULL DEFAULT 0 CHECK (coins_received >= 0)`);

    // Overrides of the default share, kept forever: a credit uses the row in force at sentAt.
    await q.query(`
      CREATE TABLE earnings.revenue_shares (
        creator_id text NOT NULL REFERENCES earnings.creators(id),
        effective_from timestamptz NOT NULL,
        share_bps integer NOT NULL CHECK (share_bps BETWEEN 0 AND 10000),
        set_by text NOT NULL,
        reason text NOT NULL DEFAULT '',
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (creator_id, effective_from)
      )`);

    await q.query(`
      CREATE TABLE earnings.gift_credits (
        gift_event_id uuid PRIMARY KEY,
        host_id text NOT NULL REFERENCES earnings.creators(id),
        sender_id text NOT NULL,
        sender_name text NOT NULL,
        gift_id text NOT NULL,
        live_session_id uuid REFERENCES earnings.live_sessions(id),
        quantity integer NOT NULL CHECK (quantity > 0),
        unit_cost bigint NOT NULL CHECK (unit_cost >= 0),
        coins bigint NOT NULL CHECK (coins = unit_cost * quantity),
        share_bps integer NOT NULL CHECK (share_bps BETWEEN 0 AND 10000),
        -- floor(coins × share): integer division of non-negative bigints
        diamonds bigint NOT NULL CHECK (diamonds = coins * share_bps / 10000),
        combo_id text,
        sent_at timestamptz NOT NULL,
        credited_at timestamptz NOT NULL DEFAULT now(),
        batch_id uuid NOT NULL,
        event_position text NOT NULL
      )`);
    await q.query(`CREATE INDEX gift_credits_host ON earnings.gift_credits (host_id, sent_at)`);
    await q.query(`CREATE INDEX gift_credits_session ON earnings.gift_credits (live_session_id) WHERE live_session_id IS NOT NULL`);
    await q.query(`CREATE INDEX gift_credits_batch ON earnings.gift_credits (batch_id, host_id)`);

    await q.query(`
      CREATE TABLE earnings.diamond_ledger (
        id bigserial PRIMARY KEY,
        creator_id text NOT NULL REFERENCES earnings.creators(id),
        type text NOT NULL CHECK (type IN ('GIFTS', 'PAYOUT_RESERVED', 'PAYOUT_RETURNED', 'ADJUSTMENT')),
        amount bigint NOT NULL CHECK (amount <> 0),
        balance_after bigint NOT NULL CHECK (balance_after >= 0),
        reference text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX diamond_ledger_creator ON earnings.diamond_ledger (creator_id, id)`);
    await q.query(`
      CREATE FUNCTION earnings.ledger_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'earnings.diamond_ledger is append-only'; END $$`);
    await q.query(`CREATE TRIGGER diamond_ledger_append_only BEFORE UPDATE OR DELETE ON earnings.diamond_ledger
      FOR EACH ROW EXECUTE FUNCTION earnings.ledger_is_append_only()`);

    // Leaderboard aggregates. scope: 'ALL', 'D:yyyy-mm-dd', 'W:yyyy-mm-dd' (Monday), 'M:yyyy-mm', 'S:<live session id>' (UTC).
    await q.query(`
      CREATE TABLE earnings.gifter_totals (
        host_id text NOT NULL,
        scope text NOT NULL,
        sender_id text NOT NULL,
        coins bigint NOT NULL CHECK (coins >= 0),
        gifts bigint NOT NULL CHECK (gifts > 0),
        diamonds bigint NOT NULL CHECK (diamonds >= 0),
        last_gift_at timestamptz NOT NULL,
        PRIMARY KEY (host_id, scope, sender_id)
      )`);
    await q.query(`CREATE INDEX gifter_totals_rank ON earnings.gifter_totals (host_id, scope, coins DESC, last_gift_at, sender_id)`);

    await q.query(`
      CREATE TABLE earnings.payouts (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        creator_id text NOT NULL REFERENCES earnings.creators(id),
        diamonds bigint NOT NULL CHECK (diamonds > 0),
        amount_minor bigint NOT NULL CHECK (amount_minor > 0),
        currency char(3) NOT NULL DEFAULT 'USD',
        status text NOT NULL DEFAULT 'REQUESTED' CHECK (status IN ('REQUESTED', 'PROCESSING', 'PAID', 'FAILED', 'CANCELED')),
        failure_reason text,
        provider_ref text,
        requested_at timestamptz NOT NULL DEFAULT now(),
        processing_at timestamptz,
        completed_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX payouts_creator ON earnings.payouts (creator_id, requested_at DESC, id DESC)`);
    await q.query(`CREATE INDEX payouts_open ON earnings.payouts (status, requested_at) WHERE status IN ('REQUESTED', 'PROCESSING')`);

    await q.query(`
      CREATE TABLE earnings.idempotency_keys (
        user_id text NOT NULL,
        key text NOT NULL,
        operation text NOT NULL,
        request_hash text NOT NULL,
        response jsonb,
        created_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (user_id, key)
      )`);

    // Events the consumer could not apply (malformed): kept for operators instead of blocking the stream.
    await q.query(`
      CREATE TABLE earnings.rejected_events (
        event_id uuid PRIMARY KEY,
        position text NOT NULL,
        reason text NOT NULL,
        payload jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ["rejected_events", "idempotency_keys", "payouts", "gifter_totals", "diamond_ledger", "gift_credits", "revenue_shares"]) {
      await q.query(`DROP TABLE earnings.${t}`);
    }
    await q.query(`DROP FUNCTION earnings.ledger_is_append_only()`);
    await q.query(`ALTER TABLE earnings.creators DROP COLUMN diamonds, DROP COLUMN lifetime_diamonds, DROP COLUMN gifts_received, DROP COLUMN coins_received`);
  }
}
