import type { MigrationInterface, QueryRunner } from "typeorm";
import { SEND_GIFTS_1733400000000 } from "./1733400000000-SendGiftBatches.js";
import { SEND_GIFTS_WITH_BALANCES_1733500000000 } from "./1733500000000-SendGiftBalances.js";

/**
 * `wallet.send_gifts` decides one send at a time and writes once per batch (DECISIONS 131).
 *
 * The first version (1733400000000) ran about ten single-row statements per send. Measured on an
 * idle server (one client, batches of 12), a send cost 240 µs inside the function, and most of it
 * was not the rows: PostgreSQL prepares a table's CHECK constraints once per statement that
 * writes it, so a one-row INSERT into wallet.gift_events (twelve CHECKs) cost 55-63 µs, where the
 * same row without its CHECKs costs 6 µs. The same held, in smaller amounts, for the key, the
 * token, the debit and the ledger entry.
 *
 * This version keeps the decisions exactly as they were, in the same order and per send:
 *   key → token (GCRA) → debt and balance → combo.
 * It reads each sender's state once, up front:
 *   - the account row (coins, debt) and the sendGift token, locked in user order;
 *   - the batch's stored keys (one primary-key probe per send).
 * It tracks that state in the loop and then writes every successful send with one statement per
 * table:
 *   1. the keys with their stored responses;
 *   2. one conditional debit per sender;
 *   3. the GIFT_SENT ledger entries (in send order, each with its balance after);
 *   4. the gift events;
 *   5. the gift.sent events (in send order);
 *   6. the tokens.
 * A combo's row is still read and written per send, in the loop: it applies only to combo sends.
 *
 * Differences that a caller can see: none in the answers. A refused send now writes nothing at all
 * (before, it claimed its key and then deleted it).
 *
 * A key claimed by a concurrent transaction after the batch read the keys is found by the key
 * INSERT: ON CONFLICT waits for that transaction, and a conflict then raises serialization_failure.
 * The wallet retries the whole batch (a transient failure, platform/group-commit.ts). The retry
 * reads the committed key and answers that send as a replay or a reuse, as the first version did
 * after its own wait.
 *
 * wallet.post_entry stays the single-entry ledger writer (recharge, refunds, chargebacks,
 * repayment). The gift debits here keep its rules: a conditional UPDATE that never takes an
 * account below zero, and an entry carrying the balance after it. They apply those rules to the
 * whole batch in one statement.
 */
export class SendGiftSetWrites1733700000000 implements MigrationInterface {
  name = "SendGiftSetWrites1733700000000";

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE OR REPLACE FUNCTION wallet.send_gifts(p_sends jsonb, p_interval float8, p_tolerance float8, p_max_combo integer)
      RETURNS TABLE (o_idx integer, o_outcome text, o_response jsonb, o_balance bigint, o_debt bigint, o_wait float8, o_combo_total integer)
      LANGUAGE plpgsql AS $$
      DECLARE
        s record;
        v_now timestamptz := statement_timestamp();
        -- The instant kept to the millisecond so the row, the API and the event carry the same one
        -- (now() is the transaction's start: one instant for the whole batch, as before).
        v_sent timestamptz := date_trunc('milliseconds', now());
        v_sent_text text := to_char(date_trunc('milliseconds', now()) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"');
        -- Per sender (v_senders in user order; j indexes the arrays): the state the batch leaves.
        v_senders text[]; v_coins bigint[]; v_coins0 bigint[]; v_debt bigint[]; v_tat timestamptz[]; v_tat0 timestamptz[];
        j integer;
        -- Stored and this batch's keys: [sender, key]::text → [operation, request_hash, response].
        v_keys jsonb; v_key text; v_seen jsonb;
        v_base timestamptz;
        v_c_gift uuid; v_c_host text; v_c_session text; v_c_total integer;
        -- The sends that go through: their index in p_sends and their stored response (which holds the balance after).
        v_ok integer[] := '{}'; v_ok_response jsonb[] := '{}';
        v_rows integer;
        v_debited integer := 0; -- senders with at least one send through (counted in the loop)
      BEGIN
        -- Every sender's account row and sendGift token row, locked first and in one order (by user,
        -- the account then the token): two batches (in any wallet process) never wait for each other
        -- in a cycle, and a sender's checks and debits below cannot interleave with another
        -- transaction's (a refund recording debt, another batch). One statement: the sorted senders
        -- drive a nested loop whose inner sides lock and read (a sender may have neither row yet).
        SELECT array_agg(u.id ORDER BY u.id), array_agg(a.coins ORDER BY u.id), array_agg(a.debt ORDER BY u.id), array_agg(r.tat ORDER BY u.id)
          INTO v_senders, v_coins, v_debt, v_tat
          FROM (SELECT DISTINCT e->>'sender_id' AS id FROM jsonb_array_elements(p_sends) e ORDER BY 1) u
          LEFT JOIN LATERAL (SELECT w.coins, w.debt FROM wallet.accounts w WHERE w.user_id = u.id FOR UPDATE) a ON true
          LEFT JOIN LATERAL (SELECT t.tat FROM wallet.rate_limits t WHERE t.user_id = u.id AND t.action = 'sendGift' FOR UPDATE) r ON true;
        IF v_senders IS NULL THEN RETURN; END IF;
        v_coins0 := v_coins;
        v_tat0 := v_tat;
        -- The batch's keys already stored (one key space per user with recharge).
        SELECT coalesce(jsonb_object_agg(jsonb_build_array(k.user_id, k.key)::text, jsonb_build_array(k.operation, k.request_hash, k.response)), '{}')
          INTO v_keys
          FROM jsonb_to_recordset(p_sends) AS x(sender_id text, key text)
          -- One primary-key probe per send (LIMIT keeps the subquery from becoming a join, which
          -- was planned as a scan of every stored key: 2 ms a batch under the bench's load).
          CROSS JOIN LATERAL (SELECT * FROM wallet.idempotency_keys k WHERE k.user_id = x.sender_id AND k.key = x.key LIMIT 1) k;

        FOR s IN
          SELECT x.*, array_position(v_senders, x.sender_id) AS j FROM jsonb_to_recordset(p_sends) AS x(
            i integer, id uuid, sender_id text, sender_name text, gift_id uuid, host_id text, live_session_id text,
            quantity integer, unit_cost bigint, coins bigint, combo_id text, message text, anonymous boolean, video_id text,
            key text, request_hash text, payload jsonb)
          ORDER BY x.i
        LOOP
          o_idx := s.i; o_response := NULL; o_balance := NULL; o_debt := NULL; o_wait := NULL; o_combo_total := NULL;
          j := s.j;
          -- The writes below find send i at p_sends -> i.
          IF (p_sends -> s.i ->> 'id') IS DISTINCT FROM s.id::text THEN
            RAISE EXCEPTION 'send_gifts: send % is not at index % of its batch', s.id, s.i;
          END IF;

          -- 1. The idempotency key: stored before, or sent earlier in this batch.
          v_key := jsonb_build_array(s.sender_id, s.key)::text;
          v_seen := v_keys -> v_key;
          IF v_seen IS NOT NULL THEN
            IF v_seen->>0 IS DISTINCT FROM 'sendGift' OR v_seen->>1 IS DISTINCT FROM s.request_hash THEN
              o_outcome := 'KEY_REUSED';
            ELSIF jsonb_typeof(v_seen->2) = 'null' THEN
              o_outcome := 'IN_FLIGHT';
            ELSE
              o_outcome := 'REPLAYED'; o_response := v_seen->2;
            END IF;
            RETURN NEXT; CONTINUE;
          END IF;

          -- 2. The sender's sendGift token (GCRA): taken below only if the send goes through.
          v_base := greatest(coalesce(v_tat[j], v_now), v_now);
          IF v_base - v_now > make_interval(secs => p_tolerance) THEN
            o_outcome := 'RATE_LIMITED'; o_wait := extract(epoch FROM (v_tat[j] - v_now))::float8 - p_tolerance;
            RETURN NEXT; CONTINUE;
          END IF;

          -- 3. Debt blocks sending; then the balance (this batch's earlier sends included).
          IF v_coins[j] IS NULL OR v_debt[j] > 0 OR v_coins[j] < s.coins THEN
            o_balance := coalesce(v_coins[j], 0); o_debt := coalesce(v_debt[j], 0);
            o_outcome := CASE WHEN coalesce(v_debt[j], 0) > 0 THEN 'IN_DEBT' ELSE 'INSUFFICIENT_COINS' END;
            RETURN NEXT; CONTINUE;
          END IF;

          -- 4. A combo continues one gift to one host in one session, at most p_max_combo in total.
          --    The last check: when it passes, the send goes through and its combo row is written.
          IF s.combo_id IS NOT NULL THEN
            v_c_gift := NULL; v_c_host := NULL; v_c_session := NULL; v_c_total := NULL;
            SELECT c.gift_id, c.host_id, c.live_session_id, c.total_quantity INTO v_c_gift, v_c_host, v_c_session, v_c_total
              FROM wallet.gift_combos c WHERE c.sender_id = s.sender_id AND c.combo_id = s.combo_id FOR UPDATE;
            IF v_c_total IS NOT NULL AND (v_c_gift <> s.gift_id OR v_c_host <> s.host_id OR v_c_session IS DISTINCT FROM s.live_session_id) THEN
              o_outcome := 'COMBO_MISMATCH';
              RETURN NEXT; CONTINUE;
            END IF;
            IF coalesce(v_c_total, 0) + s.quantity > p_max_combo THEN
              o_outcome := 'COMBO_FULL'; o_combo_total := coalesce(v_c_total, 0);
              RETURN NEXT; CONTINUE;
            END IF;
            INSERT INTO wallet.gift_combos AS c (sender_id, combo_id, gift_id, host_id, live_session_id, total_quantity, sends)
            VALUES (s.sender_id, s.combo_id, s.gift_id, s.host_id, s.live_session_id, s.quantity, 1)
            ON CONFLICT (sender_id, combo_id) DO UPDATE
              SET total_quantity = c.total_quantity + EXCLUDED.total_quantity, sends = c.sends + 1, updated_at = now();
          END IF;

          -- 5. It goes through: take the token and the coins, keep what a replay returns
          --    (GiftEventRecord in domain/gifting.ts, field for field).
          v_tat[j] := v_base + make_interval(secs => p_interval);
          IF v_coins[j] = v_coins0[j] THEN v_debited := v_debited + 1; END IF;
          v_coins[j] := v_coins[j] - s.coins;
          o_response := jsonb_build_object(
            'id', s.id, 'senderId', s.sender_id, 'senderName', s.sender_name, 'giftId', s.gift_id, 'hostId', s.host_id,
            'liveSessionId', s.live_session_id, 'quantity', s.quantity, 'unitCost', s.unit_cost, 'coins', s.coins,
            'comboId', s.combo_id, 'sentAt', v_sent_text, 'senderBalanceAfter', v_coins[j],
            'message', s.message, 'anonymous', coalesce(s.anonymous, false), 'videoId', s.video_id);
          v_keys := v_keys || jsonb_build_object(v_key, jsonb_build_array('sendGift', s.request_hash, o_response));
          v_ok := v_ok || s.i; v_ok_response := v_ok_response || o_response;
          o_outcome := 'SENT'; o_balance := v_coins[j]; o_debt := v_debt[j];
          RETURN NEXT;
        END LOOP;

        IF cardinality(v_ok) = 0 THEN RETURN; END IF;

        -- 6. The writes, one statement per table for the whole batch (send i is p_sends -> i: the wallet
        --    numbers the sends by their place in the array). The keys first: ON CONFLICT
        --    waits for a transaction that claimed one of them since the read above; a conflict
        --    rolls the batch back for the wallet to retry (it then reads that key).
        INSERT INTO wallet.idempotency_keys (user_id, key, operation, request_hash, response)
        SELECT x.sender_id, x.key, 'sendGift', x.request_hash, u.response
          FROM unnest(v_ok, v_ok_response) AS u(i, response)
          CROSS JOIN LATERAL jsonb_to_record(p_sends -> u.i) AS x(sender_id text, key text, request_hash text)
         ORDER BY u.i
        ON CONFLICT (user_id, key) DO NOTHING;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows <> cardinality(v_ok) THEN
          RAISE EXCEPTION USING ERRCODE = 'serialization_failure',
            MESSAGE = 'send_gifts: a key of this batch was claimed by a concurrent transaction; the batch is rolled back to be retried';
        END IF;

        -- One conditional debit per sender (never below zero: the UPDATE matches only if it fits).
        UPDATE wallet.accounts AS a SET coins = a.coins - (u.before - u.after), updated_at = now()
          FROM unnest(v_senders, v_coins0, v_coins) AS u(id, before, after)
         WHERE a.user_id = u.id AND u.after <> u.before AND a.coins - (u.before - u.after) >= 0;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows <> v_debited THEN
          RAISE EXCEPTION 'send_gifts: % of % debits moved nothing under the account lock', v_debited - v_rows, v_debited;
        END IF;

        -- The ledger entries in send order (ids ascend with it), then the gift events that reference them.
        WITH sent AS (
          SELECT u.i, x.*, (u.response->>'senderBalanceAfter')::bigint AS balance_after, v_debt[array_position(v_senders, x.sender_id)] AS debt_after
            FROM unnest(v_ok, v_ok_response) AS u(i, response)
            CROSS JOIN LATERAL jsonb_to_record(p_sends -> u.i) AS x(
              id uuid, sender_id text, sender_name text, gift_id uuid, host_id text, live_session_id text,
              quantity integer, unit_cost bigint, coins bigint, combo_id text, message text, anonymous boolean, video_id text)
        ), entries AS (
          INSERT INTO wallet.ledger_entries (user_id, type, amount, balance_after, debt_change, debt_after, reference)
          SELECT sent.sender_id, 'GIFT_SENT', -sent.coins, sent.balance_after, 0, sent.debt_after, sent.id::text FROM sent ORDER BY sent.i
          RETURNING id, reference
        )
        INSERT INTO wallet.gift_events
          (id, sender_id, sender_name, gift_id, host_id, live_session_id, quantity, unit_cost, coins, combo_id,
           sender_balance_after, ledger_entry_id, sent_at, message, anonymous, video_id)
        SELECT sent.id, sent.sender_id, sent.sender_name, sent.gift_id, sent.host_id, sent.live_session_id, sent.quantity, sent.unit_cost, sent.coins, sent.combo_id,
               sent.balance_after, entries.id, v_sent, sent.message, coalesce(sent.anonymous, false), sent.video_id
          FROM sent JOIN entries ON entries.reference = sent.id::text
         ORDER BY sent.i;
        GET DIAGNOSTICS v_rows = ROW_COUNT;
        IF v_rows <> cardinality(v_ok) THEN
          RAISE EXCEPTION 'send_gifts: % gift events written for % sends', v_rows, cardinality(v_ok);
        END IF;

        -- The gift.sent events (the id IS the gift event's: one event per gift), in send order.
        INSERT INTO eventlog.events (event_id, type, key, payload)
        SELECT x.id, 'gift.sent', x.host_id, x.payload || jsonb_build_object('sentAt', v_sent_text)
          FROM unnest(v_ok) AS u(i)
          CROSS JOIN LATERAL jsonb_to_record(p_sends -> u.i) AS x(id uuid, host_id text, payload jsonb)
         ORDER BY u.i;

        -- The tokens taken.
        INSERT INTO wallet.rate_limits AS r (user_id, action, tat)
        SELECT u.id, 'sendGift', u.tat FROM unnest(v_senders, v_tat0, v_tat) AS u(id, tat0, tat) WHERE u.tat IS DISTINCT FROM u.tat0
        ON CONFLICT (user_id, action) DO UPDATE SET tat = EXCLUDED.tat;
      END $$`);

    // The wrapper read each sender's balance by a join on a jsonb expression, which PostgreSQL
    // plans as a hash join over a scan of every account: a scan of wallet.accounts per batch.
    // One primary-key probe per send instead (LIMIT keeps the subquery from becoming a join).
    await q.query(`
      CREATE OR REPLACE FUNCTION wallet.send_gifts_with_balances(p_sends jsonb, p_interval float8, p_tolerance float8, p_max_combo integer)
      RETURNS TABLE (o_idx integer, o_outcome text, o_response jsonb, o_balance bigint, o_debt bigint, o_wait float8, o_combo_total integer,
                     o_coins_now bigint, o_debt_now bigint)
      LANGUAGE plpgsql AS $$
      DECLARE
        v_out jsonb;
      BEGIN
        SELECT coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb) INTO v_out
          FROM wallet.send_gifts(p_sends, p_interval, p_tolerance, p_max_combo) r;
        -- A second statement: its snapshot sees the batch's own writes.
        RETURN QUERY
          SELECT (x->>'o_idx')::integer, x->>'o_outcome', x->'o_response', (x->>'o_balance')::bigint, (x->>'o_debt')::bigint,
                 (x->>'o_wait')::float8, (x->>'o_combo_total')::integer, a.coins::bigint, a.debt::bigint
            FROM jsonb_array_elements(v_out) x
            LEFT JOIN LATERAL (
              SELECT w.coins, w.debt FROM wallet.accounts w
               WHERE w.user_id = p_sends -> ((x->>'o_idx')::integer) ->> 'sender_id' LIMIT 1
            ) a ON true;
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION wallet.send_gifts_with_balances(jsonb, float8, float8, integer)`);
    await q.query(SEND_GIFTS_WITH_BALANCES_1733500000000);
    await q.query(`DROP FUNCTION wallet.send_gifts(jsonb, float8, float8, integer)`);
    await q.query(SEND_GIFTS_1733400000000);
  }
}
