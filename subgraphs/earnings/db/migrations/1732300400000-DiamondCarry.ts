import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Diamonds carry their remainder per (creator, share period) instead of being floored per gift
 * (docs/earnings.md, "The carry"): a 1-coin Rose at 50% credited 0 diamonds, so a host could be
 * paid 43% of what viewers spent at a 50% share.
 *
 * - `earnings.diamond_carry`: one row per (host, share period) with the coins and diamonds
 *   credited in it so far; the CHECK is the rule itself, diamonds_total = floor(coins_total × share).
 * - `earnings.gift_credits.share_from`: the period each gift fell in (its revenue_shares row's
 *   effective_from, '-infinity' for the default share); the per-gift CHECK becomes the bounds a
 *   carried credit always meets, floor(coins × share) ≤ diamonds ≤ ceil(coins × share).
 * - Backfill: the carry rows are built from the existing credits, and what per-gift flooring
 *   withheld (floor(Σ coins × share) − Σ floor(coins × share) per period) is paid to the creator
 *   now with one ADJUSTMENT ledger entry each, so the rule holds for all gifts, old and new.
 *   It is recorded on the carry rows (backfill_diamonds) so the sums still reconcile.
 */
export class DiamondCarry1732300400000 implements MigrationInterface {
  name = "DiamondCarry1732300400000";

  async up(q: QueryRunner): Promise<void> {
    // ACCESS EXCLUSIVE on gift_credits until COMMIT: no consumer credits while the backfill runs.
    await q.query(`ALTER TABLE earnings.gift_credits ADD COLUMN share_from timestamptz`);
    // The period a gift fell in, decided as the consumer decides it (millisecond sentAt against
    // the share's start as a JS Date sees it, i.e. truncated to the millisecond).
    await q.query(`
      UPDATE earnings.gift_credits g
         SET share_from = coalesce(
               (SELECT r.effective_from FROM earnings.revenue_shares r
                 WHERE r.creator_id = g.host_id AND date_trunc('milliseconds', r.effective_from) <= g.sent_at
                 ORDER BY r.effective_from DESC LIMIT 1),
               '-infinity')`);
    // The per-gift formula CHECK was unnamed (PostgreSQL called it gift_credits_check1): find it by its definition.
    await q.query(`
      DO $$
      DECLARE names text[];
      BEGIN
        SELECT array_agg(conname) INTO names FROM pg_constraint
         WHERE conrelid = 'earnings.gift_credits'::regclass AND contype = 'c'
           AND pg_get_constraintdef(oid) = 'CHECK ((diamonds = ((coins * share_bps) / 10000)))';
        IF coalesce(array_length(names, 1), 0) <> 1 THEN RAISE EXCEPTION 'per-gift diamonds CHECK not found (%)', names; END IF;
        EXECUTE format('ALTER TABLE earnings.gift_credits DROP CONSTRAINT %I', names[1]);
      END $$`);
    await q.query(`ALTER TABLE earnings.gift_credits
      ALTER COLUMN share_from SET NOT NULL,
      ADD CONSTRAINT gift_credits_diamonds_carried
        CHECK (diamonds >= coins * share_bps / 10000 AND diamonds <= (coins * share_bps + 9999) / 10000)`);

    await q.query(`
      CREATE TABLE earnings.diamond_carry (
        host_id text NOT NULL REFERENCES earnings.creators(id),
        -- the revenue_shares row's effective_from, '-infinity' for the default share
        share_from timestamptz NOT NULL,
        share_bps integer NOT NULL CHECK (share_bps BETWEEN 0 AND 10000),
        coins_total bigint NOT NULL DEFAULT 0 CHECK (coins_total >= 0),
        diamonds_total bigint NOT NULL DEFAULT 0,
        -- paid by this migration's top-up, not by a gift (so diamonds_total = Σ gift_credits.diamonds + this)
        backfill_diamonds bigint NOT NULL DEFAULT 0 CHECK (backfill_diamonds >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (host_id, share_from, share_bps),
        CONSTRAINT diamond_carry_rule CHECK (diamonds_total = coins_total * share_bps / 10000)
      )`);
    await q.query(`
      INSERT INTO earnings.diamond_carry (host_id, share_from, share_bps, coins_total, diamonds_total, backfill_diamonds)
      SELECT host_id, share_from, share_bps, coins, coins * share_bps / 10000, coins * share_bps / 10000 - diamonds
        -- bigint, so / is integer division (sum() alone is numeric, and numeric / rounds on the way into a bigint)
        FROM (SELECT host_id, share_from, share_bps, sum(coins)::bigint AS coins, sum(diamonds)::bigint AS diamonds
                FROM earnings.gift_credits GROUP BY host_id, share_from, share_bps) p`);

    // The top-up: the balance moves only with a ledger entry (one per creator owed anything).
    await q.query(`
      WITH owed AS (
        SELECT host_id, sum(backfill_diamonds) AS d FROM earnings.diamond_carry GROUP BY host_id HAVING sum(backfill_diamonds) > 0
      ), paid AS (
        UPDATE earnings.creators c SET diamonds = c.diamonds + o.d, lifetime_diamonds = c.lifetime_diamonds + o.d
          FROM owed o WHERE c.id = o.host_id
        RETURNING c.id, o.d, c.diamonds
      )
      INSERT INTO earnings.diamond_ledger (creator_id, type, amount, balance_after, reference)
      SELECT id, 'ADJUSTMENT', d, diamonds, 'diamond-carry-backfill' FROM paid ORDER BY id`);
  }

  async down(q: QueryRunner): Promise<void> {
    // The top-up stays paid (the ledger is append-only); rows credited with a carry would fail the
    // old per-gift formula, so it comes back unvalidated.
    await q.query(`DROP TABLE earnings.diamond_carry`);
    await q.query(`ALTER TABLE earnings.gift_credits
      DROP CONSTRAINT gift_credits_diamonds_carried,
      ADD CONSTRAINT gift_credits_diamonds_per_gift CHECK (diamonds = coins * share_bps / 10000) NOT VALID,
      DROP COLUMN share_from`);
  }
}
