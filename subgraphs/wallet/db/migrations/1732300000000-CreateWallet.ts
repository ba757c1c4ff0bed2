import type { MigrationInterface, QueryRunner } from "typeorm";

export class CreateWallet1732300000000 implements MigrationInterface {
  name = "CreateWallet1732300000000";

  async up(q: QueryRunner): Promise<void> {
    // The database, not the code, refuses a negative balance.
    await q.query(`
      CREATE TABLE wallet.accounts (
        user_id text PRIMARY KEY CHECK (length(user_id) BETWEEN 1 AND 128),
        coins bigint NOT NULL DEFAULT 0 CHECK (coins >= 0),
        debt bigint NOT NULL DEFAULT 0 CHECK (debt >= 0),
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE wallet.accounts`);
  }
}
