import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * sendGift's payload shows the sender's wallet as it is after the send. It was a second coalesced
 * SELECT after every batch (one more round trip per batch); this wrapper answers each send's
 * outcome together with its sender's coins and debt as the batch left them, in the same statement.
 *
 * Two statements inside the function: the second one's snapshot sees the batch's own writes (a
 * single SELECT joining send_gifts' rows with wallet.accounts would read the balances from before
 * the batch). A sender's later batches may still change it before the client reads the answer, as
 * with any read.
 */
/** The wrapper as this migration created it (migration 1733700000000's `down` restores it). */
export const SEND_GIFTS_WITH_BALANCES_1733500000000 = `
      CREATE FUNCTION wallet.send_gifts_with_balances(p_sends jsonb, p_interval float8, p_tolerance float8, p_max_combo integer)
      RETURNS TABLE (o_idx integer, o_outcome text, o_response jsonb, o_balance bigint, o_debt bigint, o_wait float8, o_combo_total integer,
                     o_coins_now bigint, o_debt_now bigint)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_out jsonb;
      BEGIN
        SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb) INTO v_out
          FROM wallet.send_gifts(p_sends, p_interval, p_tolerance, p_max_combo) r;
        RETURN QUERY
          SELECT (x->>'o_idx')::integer, x->>'o_outcome', x->'o_response', (x->>'o_balance')::bigint, (x->>'o_debt')::bigint,
                 (x->>'o_wait')::float8, (x->>'o_combo_total')::integer, a.coins::bigint, a.debt::bigint
            FROM jsonb_array_elements(v_out) x
            LEFT JOIN wallet.accounts a ON a.user_id = p_sends -> ((x->>'o_idx')::integer) ->> 'sender_id';
      END $$`;

export class SendGiftBalances1733500000000 implements MigrationInterface {
  name = "SendGiftBalances1733500000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(SEND_GIFTS_WITH_BALANCES_1733500000000);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION wallet.send_gifts_with_balances(jsonb, float8, float8, integer)`);
  }
}
