import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Partial refunds (DECISIONS 49): one row per refund of an order, and running totals on the
 * order guarded by CHECKs, so the database itself refuses refunding more money than was paid
 * or taking back more coins than were bought.
 */
export class PartialRefunds1733100100000 implements MigrationInterface {
  name = "PartialRefunds1733100100000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE wallet.recharge_orders
      ADD COLUMN refund_reserved_minor bigint NOT NULL DEFAULT 0,
      ADD COLUMN refunded_minor bigint NOT NULL DEFAULT 0,
      ADD COLUMN refunded_coins bigint NOT NULL DEFAULT 0`);
    // Orders reversed in full before this migration: everything is refunded and taken back.
    await q.query(`UPDATE wallet.recharge_orders SET refund_reserved_minor = amount_minor, refunded_minor = amount_minor, refunded_coins = coins + bonus_coins
                    WHERE status IN ('REFUNDED', 'CHARGED_BACK')`);
    await q.query(`ALTER TABLE wallet.recharge_orders ADD CONSTRAINT recharge_orders_refunds_bounded CHECK (
      refunded_minor >= 0 AND refunded_minor <= refund_reserved_minor AND refund_reserved_minor <= amount_minor
      AND refunded_coins >= 0 AND refunded_coins <= coins + bonus_coins)`);
    await q.query(`
      CREATE TABLE wallet.recharge_refunds (
        id uuid PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES wallet.recharge_orders(id),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
        request_hash text NOT NULL,
        amount_minor bigint NOT NULL CHECK (amount_minor > 0),
        currency char(3) NOT NULL,
        status text NOT NULL CHECK (status IN ('PENDING', 'SUCCEEDED', 'FAILED')),
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
        actor text NOT NULL,
        provider_refund_id text,
        failure_code text,
        coins_reversed bigint CHECK (coins_reversed >= 0),
        debt_recorded bigint CHECK (debt_recorded >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        UNIQUE (order_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX recharge_refunds_by_order ON wallet.recharge_refunds (order_id, created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wallet.recharge_refunds`);
    await q.query(`ALTER TABLE wallet.recharge_orders DROP CONSTRAINT recharge_orders_refunds_bounded,
      DROP COLUMN refund_reserved_minor, DROP COLUMN refunded_minor, DROP COLUMN refunded_coins`);
  }
}
