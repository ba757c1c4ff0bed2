import type { MigrationInterface, QueryRunner } from "typeorm";

/**
 * Group commit for sendGift (docs/gifting.md "Group commit", DECISIONS 90).
 *
 * `wallet.post_entry` is the single-entry ledger writer: it moves an account's coins/debt with a
 * conditional UPDATE (never below zero) and appends the entry, in the caller's transaction.
 * ledger.ts postEntry (recharge, refunds, chargebacks, debt repayment) and send_gifts call it.
 *
 * `wallet.send_gifts(sends, interval, tolerance, max_combo)` applies a batch of sends in ONE
 * statement (one round trip, one transaction, one commit), in array order, each with its own
 * outcome: the idempotency claim, the sendGift token (GCRA, platform/money-rate-limit.ts), the debt and
 * balance checks, the combo cap, then the debit + ledger entry, the gift event, the gift.sent
 * outbox event, the combo total and the stored response. A send that fails writes nothing: every
 * check runs before its first write except the key claim, which the failing send deletes again
 * (no subtransactions: a batch of 100 would overflow PostgreSQL's per-backend subxid cache).
 * Any error RAISEd (a constraint, a lost connection) rolls the whole batch back; the wallet then
 * retries it or answers each send on its own (domain/send-batch.ts).
 */
/** The first send_gifts, as this migration created it (migration 1733700000000's `down` restores it). */
export const SEND_GIFTS_1733400000000 = `
      CREATE FUNCTION wallet.send_gifts(p_sends jsonb, p_interval float8, p_tolerance float8, p_max_combo integer)
      RETURNS TABLE (o_idx integer, o_outcome text, o_response jsonb, o_balance bigint, o_debt bigint, o_wait float8, o_combo_total integer)
      LANGUAGE plpgsql AS $$
      DECLARE
        s record;
        v_now timestamptz := statement_timestamp();
        v_op text; v_hash text; v_stored jsonb;
        v_tat timestamptz; v_base timestamptz;
        v_coins bigint; v_debt bigint;
        v_c_gift uuid; v_c_host text; v_c_session text; v_c_total integer;
        v_entry record;
        v_sent timestamptz; v_sent_text text;
      BEGIN
        -- Every sender's account row, locked first and in one order: two batches (in any wallet
        -- process) never wait for each other in a cycle, and a sender's checks and debits below
        -- cannot interleave with another transaction's (a refund recording debt, another batch).
        PERFORM 1 FROM wallet.accounts a
         WHERE a.user_id IN (SELECT DISTINCT e->>'sender_id' FROM jsonb_array_elements(p_sends) e)
         ORDER BY a.user_id FOR UPDATE;

        FOR s IN
          SELECT * FROM jsonb_to_recordset(p_sends) AS x(
            i integer, id uuid, sender_id text, sender_name text, gift_id uuid, host_id text, live_session_id text,
            quantity integer, unit_cost bigint, coins bigint, combo_id text, message text, anonymous boolean, video_id text,
            key text, request_hash text, payload jsonb)
          ORDER BY x.i
        LOOP
          o_idx := s.i; o_response := NULL; o_balance := NULL; o_debt := NULL; o_wait := NULL; o_combo_total := NULL;

          -- 1. The idempotency key (one key space per user with recharge). ON CONFLICT waits for a
          --    concurrent claim of the same key and then sees it; a key claimed earlier in this batch
          --    is seen at once (same transaction).
          INSERT INTO wallet.idempotency_keys (user_id, key, operation, request_hash)
          VALUES (s.sender_id, s.key, 'sendGift', s.request_hash)
          ON CONFLICT (user_id, key) DO NOTHING;
          IF NOT FOUND THEN
            SELECT k.operation, k.request_hash, k.response INTO v_op, v_hash, v_stored
              FROM wallet.idempotency_keys k WHERE k.user_id = s.sender_id AND k.key = s.key;
            IF v_op IS DISTINCT FROM 'sendGift' OR v_hash IS DISTINCT FROM s.request_hash THEN
              o_outcome := CASE WHEN v_op IS NULL THEN 'IN_FLIGHT' ELSE 'KEY_REUSED' END;
            ELSIF v_stored IS NULL THEN
              o_outcome := 'IN_FLIGHT';
            ELSE
              o_outcome := 'REPLAYED'; o_response := v_stored;
            END IF;
            RETURN NEXT; CONTINUE;
          END IF;

          -- 2. The sender's sendGift token (GCRA): read now, taken below only if the send goes through.
          SELECT r.tat INTO v_tat FROM wallet.rate_limits r WHERE r.user_id = s.sender_id AND r.action = 'sendGift' FOR UPDATE;
          v_base := greatest(coalesce(v_tat, v_now), v_now);
          IF v_base - v_now > make_interval(secs => p_tolerance) THEN
            DELETE FROM wallet.idempotency_keys k WHERE k.user_id = s.sender_id AND k.key = s.key;
            o_outcome := 'RATE_LIMITED'; o_wait := extract(epoch FROM (v_tat - v_now))::float8 - p_tolerance;
            RETURN NEXT; CONTINUE;
          END IF;

          -- 3. Debt blocks sending; then the balance (this batch's earlier sends included).
          SELECT a.coins, a.debt INTO v_coins, v_debt FROM wallet.accounts a WHERE a.user_id = s.sender_id;
          IF v_coins IS NULL OR v_debt > 0 OR v_coins < s.coins THEN
            DELETE FROM wallet.idempotency_keys k WHERE k.user_id = s.sender_id AND k.key = s.key;
            o_balance := coalesce(v_coins, 0); o_debt := coalesce(v_debt, 0);
            o_outcome := CASE WHEN coalesce(v_debt, 0) > 0 THEN 'IN_DEBT' ELSE 'INSUFFICIENT_COINS' END;
            RETURN NEXT; CONTINUE;
          END IF;

          -- 4. A combo continues one gift to one host in one session, at most p_max_combo in total.
          IF s.combo_id IS NOT NULL THEN
            v_c_gift := NULL; v_c_host := NULL; v_c_session := NULL; v_c_total := NULL;
            SELECT c.gift_id, c.host_id, c.live_session_id, c.total_quantity INTO v_c_gift, v_c_host, v_c_session, v_c_total
              FROM wallet.gift_combos c WHERE c.sender_id = s.sender_id AND c.combo_id = s.combo_id FOR UPDATE;
            IF v_c_total IS NOT NULL AND (v_c_gift <> s.gift_id OR v_c_host <> s.host_id OR v_c_session IS DISTINCT FROM s.live_session_id) THEN
              DELETE FROM wallet.idempotency_keys k WHERE k.user_id = s.sender_id AND k.key = s.key;
              o_outcome := 'COMBO_MISMATCH';
              RETURN NEXT; CONTINUE;
            END IF;
            IF coalesce(v_c_total, 0) + s.quantity > p_max_combo THEN
              DELETE FROM wallet.idempotency_keys k WHERE k.user_id = s.sender_id AND k.key = s.key;
              o_outcome := 'COMBO_FULL'; o_combo_total := coalesce(v_c_total, 0);
              RETURN NEXT; CONTINUE;
            END IF;
          END IF;

          -- 5. Everything checked: write. The token, the debit and its ledger entry, the gift event,
          --    the gift.sent event (its id IS the gift event's: one event per gift), the combo, the response.
          INSERT INTO wallet.rate_limits AS r (user_id, action, tat) VALUES (s.sender_id, 'sendGift', v_base + make_interval(secs => p_interval))
          ON CONFLICT (user_id, action) DO UPDATE SET tat = EXCLUDED.tat;
          SELECT * INTO v_entry FROM wallet.post_entry(s.sender_id, 'GIFT_SENT', -s.coins, 0, s.id::text);
          IF v_entry.entry_id IS NULL THEN
            RAISE EXCEPTION 'send_gifts: the debit of gift event % moved nothing under the account lock', s.id;
          END IF;
          -- The instant kept to the millisecond so the row, the API and the event carry the same one.
          v_sent := date_trunc('milliseconds', now());
          v_sent_text := to_char(v_sent AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
          INSERT INTO wallet.gift_events
            (id, sender_id, sender_name, gift_id, host_id, live_session_id, quantity, unit_cost, coins, combo_id,
             sender_balance_after, ledger_entry_id, sent_at, message, anonymous, video_id)
          VALUES (s.id, s.sender_id, s.sender_name, s.gift_id, s.host_id, s.live_session_id, s.quantity, s.unit_cost, s.coins, s.combo_id,
                  v_entry.balance_after, v_entry.entry_id, v_sent, s.message, coalesce(s.anonymous, false), s.video_id);
          INSERT INTO eventlog.events (event_id, type, key, payload)
          VALUES (s.id, 'gift.sent', s.host_id, s.payload || jsonb_build_object('sentAt', v_sent_text));
          IF s.combo_id IS NOT NULL THEN
            INSERT INTO wallet.gift_combos AS c (sender_id, combo_id, gift_id, host_id, live_session_id, total_quantity, sends)
            VALUES (s.sender_id, s.combo_id, s.gift_id, s.host_id, s.live_session_id, s.quantity, 1)
            ON CONFLICT (sender_id, combo_id) DO UPDATE
              SET total_quantity = c.total_quantity + EXCLUDED.total_quantity, sends = c.sends + 1, updated_at = now();
          END IF;
          -- What a replay returns (GiftEventRecord in domain/gifting.ts, field for field).
          o_response := jsonb_build_object(
            'id', s.id, 'senderId', s.sender_id, 'senderName', s.sender_name, 'giftId', s.gift_id, 'hostId', s.host_id,
            'liveSessionId', s.live_session_id, 'quantity', s.quantity, 'unitCost', s.unit_cost, 'coins', s.coins,
            'comboId', s.combo_id, 'sentAt', v_sent_text, 'senderBalanceAfter', v_entry.balance_after,
            'message', s.message, 'anonymous', coalesce(s.anonymous, false), 'videoId', s.video_id);
          UPDATE wallet.idempotency_keys k SET response = o_response WHERE k.user_id = s.sender_id AND k.key = s.key;
          o_outcome := 'SENT'; o_balance := v_entry.balance_after; o_debt := v_entry.debt_after;
          RETURN NEXT;
        END LOOP;
      END $$`;

export class SendGiftBatches1733400000000 implements MigrationInterface {
  name = "SendGiftBatches1733400000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION wallet.post_entry(p_user text, p_type text, p_amount bigint, p_debt_change bigint, p_reference text,
                                        OUT entry_id bigint, OUT balance_after bigint, OUT debt_after bigint)
      LANGUAGE plpgsql AS $$
      BEGIN
        UPDATE wallet.accounts AS a SET coins = a.coins + p_amount, debt = a.debt + p_debt_change, updated_at = now()
         WHERE a.user_id = p_user AND a.coins + p_amount >= 0 AND a.debt + p_debt_change >= 0
         RETURNING a.coins, a.debt INTO balance_after, debt_after;
        IF NOT FOUND THEN
          -- No account yet (or not enough): make sure it exists, then try once more (a concurrent
          -- first credit may have created it meanwhile; READ COMMITTED sees it in the next statement).
          INSERT INTO wallet.accounts (user_id) VALUES (p_user) ON CONFLICT DO NOTHING;
          UPDATE wallet.accounts AS a SET coins = a.coins + p_amount, debt = a.debt + p_debt_change, updated_at = now()
           WHERE a.user_id = p_user AND a.coins + p_amount >= 0 AND a.debt + p_debt_change >= 0
           RETURNING a.coins, a.debt INTO balance_after, debt_after;
          IF NOT FOUND THEN RETURN; END IF; -- nothing moved: entry_id is null
        END IF;
        INSERT INTO wallet.ledger_entries (user_id, type, amount, balance_after, debt_change, debt_after, reference)
        VALUES (p_user, p_type, p_amount, balance_after, p_debt_change, debt_after, p_reference)
        RETURNING id INTO entry_id;
      END $$`);

    await q.query(SEND_GIFTS_1733400000000);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION wallet.send_gifts(jsonb, float8, float8, integer)`);
    await q.query(`DROP FUNCTION wallet.post_entry(text, text, bigint, bigint, text)`);
  }
}
