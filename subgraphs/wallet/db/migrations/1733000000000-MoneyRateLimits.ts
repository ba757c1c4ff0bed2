import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The per-user money-mutation guard's state (platform/money-rate-limit.ts MoneyRateLimiter): one GCRA
 * row per user and action, shared by every instance of the subgraph. A row whose tat is in the
 * past is a full bucket, so deleting such rows (housekeeping) never changes a decision.
 */
export class MoneyRateLimits1733000000000 implements MigrationInterface {
  name = "MoneyRateLimits1733000000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE wallet.rate_limits (
        user_id text NOT NULL CHECK (length(user_id) BETWEEN 1 AND 128),
        action text NOT NULL CHECK (length(action) BETWEEN 1 AND 64),
        tat timestamptz NOT NULL,
        PRIMARY KEY (user_id, action)
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wallet.rate_limits`);
  }
}
