import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { startStack, type Stack } from "../support/stack.js";
import { postEntry, EntryType } from "../../subgraphs/wallet/domain/ledger.js";
import { ProviderUnavailable } from "../../subgraphs/wallet/domain/payments/provider.js";
import { coinsToTakeBack } from "../../subgraphs/wallet/domain/refunds.js";
import { expectLedgerConsistent, ledgerFor, paymentIdOf, recharge, sandbox, tokenFor, uniqueUser, walletOf } from "./support.js";

let stack: Stack;
let admin: string;
beforeAll(async () => {
  stack = await startStack("partialrefunds");
  admin = await tokenFor("refund-admin", { roles: ["viewer", "admin"] });
});
afterAll(async () => {
  await stack?.stop();
});

const ORDER = `id status coins bonusCoins totalCoins price { amountMinor currency } refundedAmount { amountMinor currency }
  reversal { coinsReversed debtRecorded } refunds { amount { amountMinor } status coinsReversed debtRecorded reason }`;
const REFUND = `mutation($id: ID!, $reason: String!, $amount: Int, $key: String) {
  refundRecharge(orderId: $id, reason: $reason, amountMinor: $amount, idempotencyKey: $key) { order { ${ORDER} } userErrors { code message field } } }`;

async function refund(orderId: string, reason: string, amount?: number, key?: string) {
  const res = await stack.gql(REFUND, { id: orderId, reason, amount, key }, admin);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.refundRecharge as { order: any; userErrors: any[] };
}

async function spend(userId: string, coins: number) {
  await stack.subgraphs.wallet.dataSource.transaction((m) => postEntry(m, { userId, type: EntryType.GIFT_SENT, amount: -coins, reference: `gift-${Math.random()}` }));
}

async function bought(packageId = "pkg_US_700", claims = {}) {
  const user = uniqueUser();
  const jwt = await tokenFor(user, claims);
  const { order } = await recharge(stack, jwt, { packageId });
  expect(order.status).toBe("SUCCEEDED");
  return { user, jwt, order };
}

describe("the rounding rule (coins taken back = floor(total coins × refunded so far / paid), on running totals)", () => {
  it("never takes back a fractional coin or more than was bought, and completing the refund takes back exactly the rest", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_600_000 }), fc.integer({ min: 1, max: 10_000_000 }), fc.array(fc.integer({ min: 1, max: 10_000_000 }), { minLength: 1, maxLength: 12 }), (total, paid, parts) => {
        let refunded = 0;
        let taken = 0;
        for (const p of parts) {
          const a = Math.min(p, paid - refunded);
          if (a === 0) break;
          const share = coinsToTakeBack(total, paid, refunded, refunded + a);
          if (!Number.isInteger(share) || share < 0) return false;
          refunded += a;
          taken += share;
          // Never more than the money's exact share of the coins (rounded down).
          if (BigInt(taken) * BigInt(paid) > BigInt(total) * BigInt(refunded)) return false;
        }
        if (taken > total) return false;
        const rest = coinsToTakeBack(total, paid, refunded, paid);
        return taken + rest === total;
      }),
    );
  });
});

describe("refundRecharge with amountMinor (partial refunds)", () => {
  it("refunds part of an order at the provider first, then takes back the coins in proportion, rounded down", async () => {
    const { user, jwt, order } = await bought();
    const paymentId = await paymentIdOf(stack, order.id);
    const res = await refund(order.id, "one item not delivered", 333);
    expect(res.userErrors).toEqual([]);
    // 700 coins × 333 / 999 = 233.33… → 233 coins
    expect(res.order).toMatchObject({ status: "SUCCEEDED", refundedAmount: { amountMinor: 333, currency: "USD" }, reversal: null });
    expect(res.order.refunds).toEqual([{ amount: { amountMinor: 333 }, status: "SUCCEEDED", coinsReversed: 233, debtRecorded: 0, reason: "one item not delivered (by refund-admin)" }]);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 467, debt: 0 });
    expect((await ledgerFor(stack, order.id)).map((e) => [e.type, e.amount])).toEqual([["RECHARGE", 700], ["REFUND", -233]]);
    expect(sandbox(stack).payment(paymentId)).toBeDefined();
    await expectLedgerConsistent(stack, user);
    // The owner sees the refund but not the operator's reason.
    const own = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { refundedAmount { amountMinor } refunds { coinsReversed reason } } }`, { id: order.id }, jwt);
    expect(own.data.rechargeOrder).toEqual({ refundedAmount: { amountMinor: 333 }, refunds: [{ coinsReversed: 233, reason: null }] });
  });

  it("several partial refunds add up; a full refund after them takes only the rest, and every coin bought is taken back exactly once", async () => {
    const { user, jwt, order } = await bought();
    const before = sandbox(stack).stats.refundedMinor;
    for (const r of ["first", "second", "third"]) expect((await refund(order.id, r, 100)).userErrors).toEqual([]);
    // floor(700×100/999)=70, floor(700×200/999)=140, floor(700×300/999)=210: 70 each
    expect(await walletOf(stack, jwt)).toEqual({ coins: 490, debt: 0 });
    const full = await refund(order.id, "rest of the order");
    expect(full.order).toMatchObject({ status: "REFUNDED", refundedAmount: { amountMinor: 999 }, reversal: { coinsReversed: 700, debtRecorded: 0 } });
    expect(full.order.refunds.map((r: any) => [r.amount.amountMinor, r.coinsReversed])).toEqual([[100, 70], [100, 70], [100, 70], [699, 490]]);
    expect(sandbox(stack).stats.refundedMinor - before).toBe(999);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
    // Nothing is left: the rest again is a no-op, an explicit amount is refused.
    expect((await refund(order.id, "again")).order.status).toBe("REFUNDED");
    expect((await refund(order.id, "more", 1)).userErrors[0].code).toBe("INVALID_STATE");
    await expectLedgerConsistent(stack, user);
  });

  it("bonus coins go back in the same proportion as the money (they came with it)", async () => {
    const { jwt, order } = await bought("pkg_US_1400"); // 1400 + 70 bonus for 1999
    expect(order.totalCoins).toBe(1470);
    const res = await refund(order.id, "half", 1000);
    // 1470 × 1000 / 1999 = 735.37 → 735
    expect(res.order.refunds[0].coinsReversed).toBe(735);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 735, debt: 0 });
  });

  it("the spent part of the refunded share becomes debt, which blocks sending until repaid", async () => {
    const { user, jwt, order } = await bought();
    await spend(user, 600);
    const res = await refund(order.id, "partial", 500);
    // share floor(700×500/999) = 350; 100 left in the balance, 250 owed
    expect(res.order.refunds[0]).toMatchObject({ coinsReversed: 100, debtRecorded: 250 });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 250 });
    await expectLedgerConsistent(stack, user);
  });

  it("a tiny refund in a zero-decimal currency takes back no fractional coin (¥1 of ¥1,600 for 700 coins takes 0)", async () => {
    const { jwt, order } = await bought("pkg_JP_700", { region: "JP" });
    const res = await refund(order.id, "one yen goodwill", 1);
    expect(res.order).toMatchObject({ refundedAmount: { amountMinor: 1, currency: "JPY" } });
    expect(res.order.refunds[0].coinsReversed).toBe(0);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 700, debt: 0 });
    expect((await ledgerFor(stack, order.id)).map((e) => e.type)).toEqual(["RECHARGE"]);
  });

  it("10 concurrent partial refunds of one order never exceed it: exactly what fits succeeds, the rest get REFUND_EXCEEDS_ORDER", async () => {
    const { user, jwt, order } = await bought();
    const before = sandbox(stack).stats.refundedMinor;
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => refund(order.id, `parallel ${i}`, 300)));
    const ok = results.filter((r) => r.userErrors.length === 0);
    const refused = results.filter((r) => r.userErrors.length > 0);
    expect(ok).toHaveLength(3);
    for (const r of refused) expect(r.userErrors[0]).toMatchObject({ code: "REFUND_EXCEEDS_ORDER", field: ["amountMinor"] });
    expect(sandbox(stack).stats.refundedMinor - before).toBe(900);
    const [o] = await stack.subgraphs.wallet.dataSource.query(`SELECT refunded_minor::int, refund_reserved_minor::int, refunded_coins::int FROM wallet.recharge_orders WHERE id = $1`, [order.id]);
    expect(o).toEqual({ refunded_minor: 900, refund_reserved_minor: 900, refunded_coins: 630 });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
    await expectLedgerConsistent(stack, user);
  });

  it("a partial and a full refund racing never refund more than the order", async () => {
    const { jwt, order } = await bought();
    const before = sandbox(stack).stats.refundedMinor;
    await Promise.all([refund(order.id, "part", 400), refund(order.id, "all"), refund(order.id, "part 2", 400)]);
    expect(sandbox(stack).stats.refundedMinor - before).toBe(999);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
  });

  it("is idempotent: the same amount and reason repeated (also in parallel) is one refund; distinct keys make distinct refunds; a key reused for another amount is refused", async () => {
    const { jwt, order } = await bought();
    const before = sandbox(stack).stats.refundsCreated;
    await Promise.all(Array.from({ length: 5 }, () => refund(order.id, "goodwill", 100)));
    expect(sandbox(stack).stats.refundsCreated - before).toBe(1);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 630, debt: 0 });
    await refund(order.id, "goodwill", 100, "k-1");
    await refund(order.id, "goodwill", 100, "k-1");
    await refund(order.id, "goodwill", 100, "k-2");
    expect(sandbox(stack).stats.refundsCreated - before).toBe(3);
    const reused = await refund(order.id, "goodwill", 200, "k-1");
    expect(reused.userErrors[0]).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED" });
  });

  it("refuses more than is left, zero or negative amounts, and changes nothing", async () => {
    const { jwt, order } = await bought();
    const over = await refund(order.id, "too much", 1000);
    expect(over.userErrors[0]).toMatchObject({ code: "REFUND_EXCEEDS_ORDER" });
    expect(over.userErrors[0].message).toContain("999");
    expect((await refund(order.id, "zero", 0)).userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["amountMinor"] });
    expect((await refund(order.id, "neg", -5)).userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["amountMinor"] });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 700, debt: 0 });
    expect(Number((await stack.subgraphs.wallet.dataSource.query(`SELECT count(*) AS n FROM wallet.recharge_refunds WHERE order_id = $1`, [order.id]))[0].n)).toBe(0);
  });

  it("when the provider's answer is lost after it refunded, the refund stays PENDING (amount reserved) and repeating it finishes with one provider refund", async () => {
    const { jwt, order } = await bought();
    const sbx = sandbox(stack);
    const original = sbx.refundPayment.bind(sbx);
    sbx.refundPayment = async (req) => {
      await original(req);
      throw new ProviderUnavailable("connection reset after the provider refunded");
    };
    const before = sbx.stats.refundsCreated;
    let first;
    try {
      first = await refund(order.id, "lost answer", 500);
    } finally {
      sbx.refundPayment = original;
    }
    expect(first.userErrors[0]).toMatchObject({ code: "PAYMENT_FAILED" });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 700, debt: 0 });
    const pending = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { refunds { status amount { amountMinor } } } }`, { id: order.id }, admin);
    expect(pending.data.rechargeOrder.refunds).toEqual([{ status: "PENDING", amount: { amountMinor: 500 } }]);
    // The reservation holds: only 499 more can be refunded meanwhile.
    expect((await refund(order.id, "other", 500)).userErrors[0].code).toBe("REFUND_EXCEEDS_ORDER");
    const again = await refund(order.id, "lost answer", 500);
    expect(again.userErrors).toEqual([]);
    expect(again.order.refunds.map((r: any) => r.status)).toEqual(["SUCCEEDED"]);
    expect(sbx.stats.refundsCreated - before).toBe(1);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 700 - 350, debt: 0 });
  });

  it("a chargeback after a partial refund takes back only the rest", async () => {
    const { user, jwt, order } = await bought();
    await refund(order.id, "partial", 500); // 350 coins
    await sandbox(stack).chargeback(await paymentIdOf(stack, order.id));
    const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status reversal { coinsReversed debtRecorded } } }`, { id: order.id }, jwt);
    expect(res.data.rechargeOrder).toEqual({ status: "CHARGED_BACK", reversal: { coinsReversed: 700, debtRecorded: 0 } });
    expect((await ledgerFor(stack, order.id)).map((e) => [e.type, e.amount])).toEqual([["RECHARGE", 700], ["REFUND", -350], ["CHARGEBACK", -350]]);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
    await expectLedgerConsistent(stack, user);
  });
});
