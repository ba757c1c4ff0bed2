import type { MigrationInterface, QueryRunner } from "typeorm";

export class CreateEarnings1732300000000 implements MigrationInterface {
  name = "CreateEarnings1732300000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE earnings.creators (
        id text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 128),
        display_name text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE earnings.creators`);
  }
}
