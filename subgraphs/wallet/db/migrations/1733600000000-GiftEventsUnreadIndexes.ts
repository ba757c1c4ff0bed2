import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * wallet.gift_events is read only by id (GiftingService.byIds, the entity reference): nothing reads
 * it by sender or by host (a sender's history is the ledger's, ledger_by_user; a host's gifts are
 * earnings' gift_credits and gift_feed). Its two secondary indexes were written on every send and
 * never read: under the hot-host load the batch's gift_events INSERT was its costliest statement
 * (0.13 ms a row, four index entries). The primary key and the ledger entry's UNIQUE stay.
 * `down` builds them again for a query that needs them.
 */
export class GiftEventsUnreadIndexes1733600000000 implements MigrationInterface {
  name = "GiftEventsUnreadIndexes1733600000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX wallet.gift_events_by_sender`);
    await q.query(`DROP INDEX wallet.gift_events_by_host`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`CREATE INDEX gift_events_by_sender ON wallet.gift_events (sender_id, sent_at DESC)`);
    await q.query(`CREATE INDEX gift_events_by_host ON wallet.gift_events (host_id, sent_at DESC)`);
  }
}
