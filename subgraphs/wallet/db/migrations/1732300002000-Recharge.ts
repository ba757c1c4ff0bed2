import type { MigrationInterface, QueryRunner } from "typeorm";

/** Purchase side: regions and coin packages, promotions, recharge orders (the payment state machine), spending limits, webhooks. */
export class Recharge1732300002000 implements MigrationInterface {
  name = "Recharge1732300002000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wallet.regions (
        region char(2) PRIMARY KEY CHECK (region ~ '^[A-Z]{2}$'),
        currency char(3) NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
        locale text NOT NULL,
        -- custom amounts cost custom_price_minor per custom_price_coins coins (a rational: no float)
        custom_price_minor bigint NOT NULL CHECK (custom_price_minor > 0),
        custom_price_coins bigint NOT NULL CHECK (custom_price_coins > 0),
        payment_methods text[] NOT NULL
      )`);
    await q.query(`
      CREATE TABLE wallet.coin_packages (
        id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
        region char(2) NOT NULL REFERENCES wallet.regions(region),
        coins bigint NOT NULL CHECK (coins > 0),
        price_minor bigint NOT NULL CHECK (price_minor > 0),
        active boolean NOT NULL DEFAULT true,
        sort_order int NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX coin_packages_by_region ON wallet.coin_packages (region, sort_order)`);
    await q.query(`
      CREATE TABLE wallet.coin_promotions (
        id bigserial PRIMARY KEY,
        package_id text NOT NULL REFERENCES wallet.coin_packages(id),
        bonus_coins bigint NOT NULL CHECK (bonus_coins > 0),
        starts_at timestamptz NOT NULL DEFAULT now(),
        ends_at timestamptz NOT NULL,
        CHECK (ends_at > starts_at)
      )`);
    await q.query(`CREATE INDEX coin_promotions_by_package ON wallet.coin_promotions (package_id, ends_at)`);
    // One row per purchase attempt; (user_id, idempotency_key) makes a retried or duplicated call find the same order.
    await q.query(`
      CREATE TABLE wallet.recharge_orders (
        id uuid PRIMARY KEY,
        user_id text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 128),
        idempotency_key text NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 128),
        request_hash text NOT NULL,
        status text NOT NULL CHECK (status IN ('PROCESSING','PENDING','REQUIRES_ACTION','SUCCEEDED','FAILED','REFUNDED','CHARGED_BACK')),
        package_id text REFERENCES wallet.coin_packages(id),
        region char(2) NOT NULL,
        coins bigint NOT NULL CHECK (coins > 0),
        bonus_coins bigint NOT NULL DEFAULT 0 CHECK (bonus_coins >= 0),
        amount_minor bigint NOT NULL CHECK (amount_minor > 0),
        currency char(3) NOT NULL,
        payment_method_type text NOT NULL,
        provider text NOT NULL,
        provider_payment_id text UNIQUE,
        failure_code text,
        provider_failure_code text,
        next_action jsonb,
        reversal_reason text,
        coins_reversed bigint,
        debt_recorded bigint,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        completed_at timestamptz,
        reversed_at timestamptz,
        UNIQUE (user_id, idempotency_key)
      )`);
    await q.query(`CREATE INDEX recharge_orders_by_user ON wallet.recharge_orders (user_id, created_at DESC)`);
    await q.query(`CREATE INDEX recharge_orders_in_flight ON wallet.recharge_orders (updated_at) WHERE status = 'PROCESSING'`);
    // Audit trail of every status transition and what caused it (api, confirm, webhook, admin, reconciler).
    await q.query(`
      CREATE TABLE wallet.recharge_order_events (
        id bigserial PRIMARY KEY,
        order_id uuid NOT NULL REFERENCES wallet.recharge_orders(id),
        from_status text,
        to_status text NOT NULL,
        source text NOT NULL,
        detail jsonb,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX recharge_order_events_by_order ON wallet.recharge_order_events (order_id, id)`);
    await q.query(`
      CREATE TABLE wallet.spending_limits (
        user_id text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 128),
        period text CHECK (period IN ('DAY','WEEK','MONTH')),
        amount_minor bigint CHECK (amount_minor >= 0),
        currency char(3),
        -- a raise or removal only takes effect after a cooling-off period
        pending_period text CHECK (pending_period IN ('DAY','WEEK','MONTH')),
        pending_amount_minor bigint CHECK (pending_amount_minor >= 0),
        pending_currency char(3),
        pending_remove boolean NOT NULL DEFAULT false,
        pending_effective_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        CHECK ((period IS NULL) = (amount_minor IS NULL) AND (period IS NULL) = (currency IS NULL))
      )`);
    // Every verified provider event, once (redeliveries are acknowledged and ignored).
    await q.query(`
      CREATE TABLE wallet.payment_webhook_events (
        id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
        type text NOT NULL,
        payment_id text,
        outcome text NOT NULL,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wallet.payment_webhook_events`);
    await q.query(`DROP TABLE wallet.spending_limits`);
    await q.query(`DROP TABLE wallet.recharge_order_events`);
    await q.query(`DROP TABLE wallet.recharge_orders`);
    await q.query(`DROP TABLE wallet.coin_promotions`);
    await q.query(`DROP TABLE wallet.coin_packages`);
    await q.query(`DROP TABLE wallet.regions`);
  }
}
