import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * The live gift feed: every credited gift (and every combo end) in commit order.
 * `seq` is the source of the stream cursor. Appends are serialized by an advisory
 * lock (see domain/feed.ts), so seq order IS commit order and "seq > cursor" never
 * skips a row that commits later.
 */
export class GiftFeed1732300060000 implements MigrationInterface {
  name = "GiftFeed1732300060000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE earnings.gift_feed (
        seq bigserial PRIMARY KEY,
        -- the GiftEvent id; for a combo end: '<last gift id>:combo-end'
        id text NOT NULL UNIQUE CHECK (length(id) BETWEEN 1 AND 200),
        kind text NOT NULL CHECK (kind IN ('gift', 'combo_end')),
        host_id text NOT NULL,
        live_session_id text,
        sender_id text NOT NULL,
        sender_name text NOT NULL,
        gift_id text NOT NULL,
        quantity integer NOT NULL CHECK (quantity >= 0),
        unit_cost bigint NOT NULL CHECK (unit_cost >= 0),
        coins bigint NOT NULL CHECK (coins >= 0),
        diamonds bigint NOT NULL CHECK (diamonds >= 0),
        combo_id text,
        combo_count integer,
        combo_ended boolean,
        sent_at timestamptz NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        -- a combo end moves no money: totals summed over the feed count each gift once
        CHECK (kind = 'gift' OR (quantity = 0 AND coins = 0 AND diamonds = 0 AND combo_ended))
      )`);
    await q.query(`CREATE INDEX gift_feed_host ON earnings.gift_feed (host_id, seq)`);
    await q.query(`CREATE INDEX gift_feed_session ON earnings.gift_feed (live_session_id, seq) WHERE live_session_id IS NOT NULL`);
    // At most one open combo per (host, sender): the streak a next gift continues or ends.
    await q.query(`
      CREATE TABLE earnings.gift_open_combos (
        host_id text NOT NULL,
        sender_id text NOT NULL,
        combo_id text NOT NULL,
        gift_id text NOT NULL,
        combo_count integer NOT NULL CHECK (combo_count > 0),
        last_feed_id text NOT NULL,
        last_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (host_id, sender_id)
      )`);
    await q.query(`CREATE INDEX gift_open_combos_idle ON earnings.gift_open_combos (last_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE earnings.gift_open_combos`);
    await q.query(`DROP TABLE earnings.gift_feed`);
  }
}
