import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * sendGift's rows. A gift event is written in the same transaction as its GIFT_SENT
 * ledger entry (referenced one-to-one) and its gift.sent outbox event (same uuid).
 * Gifts are not refundable: the table is append-only, like the ledger.
 */
export class GiftEvents1732300050000 implements MigrationInterface {
  name = "GiftEvents1732300050000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wallet.gift_events (
        id uuid PRIMARY KEY,
        sender_id text NOT NULL REFERENCES wallet.accounts(user_id),
        sender_name text NOT NULL CHECK (length(sender_name) <= 100),
        gift_id uuid NOT NULL,
        host_id text NOT NULL CHECK (length(host_id) BETWEEN 1 AND 128),
        live_session_id text CHECK (length(live_session_id) BETWEEN 1 AND 128),
        quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 9999),
        unit_cost bigint NOT NULL CHECK (unit_cost > 0),
        coins bigint NOT NULL CHECK (coins = unit_cost * quantity AND coins <= 2147483647),
        combo_id text CHECK (length(combo_id) BETWEEN 1 AND 128),
        sender_balance_after bigint NOT NULL CHECK (sender_balance_after >= 0),
        ledger_entry_id bigint NOT NULL UNIQUE REFERENCES wallet.ledger_entries(id),
        sent_at timestamptz NOT NULL DEFAULT now(),
        CHECK (sender_id <> host_id)
      )`);
    await q.query(`CREATE INDEX gift_events_by_sender ON wallet.gift_events (sender_id, sent_at DESC)`);
    await q.query(`CREATE INDEX gift_events_by_host ON wallet.gift_events (host_id, sent_at DESC)`);
    await q.query(`
      CREATE FUNCTION wallet.gift_events_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'wallet.gift_events is append-only (gifts are not refundable)'; END $$`);
    await q.query(`CREATE TRIGGER gift_events_append_only BEFORE UPDATE OR DELETE ON wallet.gift_events FOR EACH ROW EXECUTE FUNCTION wallet.gift_events_are_append_only()`);
    // One row per (sender, comboId): what the combo is (gift, host, session) and its running total, capped here too.
    await q.query(`
      CREATE TABLE wallet.gift_combos (
        sender_id text NOT NULL,
        combo_id text NOT NULL CHECK (length(combo_id) BETWEEN 1 AND 128),
        gift_id uuid NOT NULL,
        host_id text NOT NULL,
        live_session_id text,
        total_quantity integer NOT NULL CHECK (total_quantity BETWEEN 1 AND 9999),
        sends integer NOT NULL CHECK (sends >= 1),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (sender_id, combo_id)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wallet.gift_combos`);
    await q.query(`DROP TABLE wallet.gift_events`);
    await q.query(`DROP FUNCTION wallet.gift_events_are_append_only()`);
  }
}
