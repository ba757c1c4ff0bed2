import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The W3C traceparent of the sendGift request that a feed row came from (nullable: rows from
 * before, combo ends, untraced gifts), so the stream's delivery continues the gift's trace
 * (docs/observability.md). Adding a nullable column rewrites nothing.
 */
export class FeedTraceparent1733170000000 implements MigrationInterface {
  name = "FeedTraceparent1733170000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.gift_feed ADD COLUMN traceparent text CHECK (length(traceparent) <= 64)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE earnings.gift_feed DROP COLUMN traceparent`);
  }
}
