import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { fund, goLive } from "../gifting/support.js";
import { expectLedgerConsistent, sandbox, tokenFor } from "./support.js";

/**
 * recharge and sendGift share one idempotency key space per user (DECISIONS 15). The same key
 * raced across both must leave exactly one winner; the loser answers IDEMPOTENCY_KEY_REUSED (a
 * userError, nothing charged), never INTERNAL_SERVER_ERROR from a unique violation.
 */
let stack: Stack;
let rose: { id: string; coinCost: number };
beforeAll(async () => {
  stack = await startStack("key-race");
  const gifts = (await stack.gql(`{ gifts { id slug coinCost } }`)).data.gifts as { id: string; slug: string; coinCost: number }[];
  rose = gifts.find((g) => g.slug === "rose")!;
  await goLive(stack, "race-host");
});
afterAll(async () => {
  await stack?.stop();
});

const RECHARGE = `mutation($input: RechargeInput!) { recharge(input: $input) { order { id status } userErrors { code } } }`;
const SEND = `mutation($input: SendGiftInput!) { sendGift(input: $input) { giftEvent { id } userErrors { code } } }`;
const TRIALS = 16;
const FUNDED = 500;
const BOUGHT = 300;

describe("one idempotency key raced across recharge and sendGift", () => {
  it(`over ${TRIALS} concurrent trials: one wins, the other is IDEMPOTENCY_KEY_REUSED, and the money is exactly the winner's`, async () => {
    const outcomes = { recharge: 0, sendGift: 0 };
    for (let t = 0; t < TRIALS; t++) {
      const user = `race-${process.pid}-${t}`;
      await fund(stack, user, FUNDED);
      const token = await tokenFor(user);
      const key = `shared-key-${t}`;
      const charges = sandbox(stack).stats.paymentsCreated;
      const rechargeCall = () => stack.gql(RECHARGE, { input: { customCoins: BOUGHT, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: key } }, token);
      const sendCall = () => stack.gql(SEND, { input: { giftId: rose.id, hostId: "race-host", expectedUnitCost: rose.coinCost, idempotencyKey: key } }, token);
      // Alternate which request leaves first, so both interleavings are exercised.
      const [r, s] = t % 2 ? await Promise.all([rechargeCall(), sendCall()]) : await Promise.all([sendCall(), rechargeCall()]).then(([a, b]) => [b, a] as const);
      expect(r.errors, `trial ${t} recharge: ${JSON.stringify(r.errors)}`).toBeUndefined();
      expect(s.errors, `trial ${t} sendGift: ${JSON.stringify(s.errors)}`).toBeUndefined();
      const rechargeWon = r.data.recharge.userErrors.length === 0;
      const sendWon = s.data.sendGift.userErrors.length === 0;
      expect(rechargeWon !== sendWon, `trial ${t}: exactly one wins`).toBe(true);
      const loser = rechargeWon ? s.data.sendGift : r.data.recharge;
      expect(loser.userErrors[0].code).toBe("IDEMPOTENCY_KEY_REUSED");

      const q = (sql: string) => stack.subgraphs.wallet.dataSource.query(sql, [user, key]);
      const [[orders], [gifts], [keyRow]] = await Promise.all([
        q(`SELECT count(*)::int AS n FROM wallet.recharge_orders WHERE user_id = $1 AND idempotency_key = $2`),
        q(`SELECT count(*)::int AS n FROM wallet.gift_events WHERE sender_id = $1 AND $2::text IS NOT NULL`),
        q(`SELECT operation FROM wallet.idempotency_keys WHERE user_id = $1 AND key = $2`),
      ]);
      const { coins } = await expectLedgerConsistent(stack, user);
      if (rechargeWon) {
        outcomes.recharge++;
        expect({ orders: orders.n, gifts: gifts.n, key: keyRow.operation, coins }).toEqual({ orders: 1, gifts: 0, key: "recharge", coins: FUNDED + BOUGHT });
        expect(sandbox(stack).stats.paymentsCreated - charges).toBe(1);
      } else {
        outcomes.sendGift++;
        expect({ orders: orders.n, gifts: gifts.n, key: keyRow.operation, coins }).toEqual({ orders: 0, gifts: 1, key: "sendGift", coins: FUNDED - rose.coinCost });
        expect(sandbox(stack).stats.paymentsCreated - charges).toBe(0);
      }
    }
    expect(outcomes.recharge + outcomes.sendGift).toBe(TRIALS);
  });
});
