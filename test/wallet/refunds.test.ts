import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { postEntry, EntryType } from "../../subgraphs/wallet/domain/ledger.js";
import { REFUND, expectLedgerConsistent, ledgerFor, paymentIdOf, recharge, sandbox, tokenFor, uniqueUser, walletOf } from "./support.js";

let stack: Stack;
let admin: string;
beforeAll(async () => {
  stack = await startStack("refunds");
  admin = await tokenFor("ops-admin", { roles: ["viewer", "admin"] });
});
afterAll(async () => {
  await stack?.stop();
});

/** Spends coins the way sendGift does (a GIFT_SENT ledger entry), without needing a live host. */
async function spend(userId: string, coins: number) {
  await stack.subgraphs.wallet.dataSource.transaction((m) => postEntry(m, { userId, type: EntryType.GIFT_SENT, amount: -coins, reference: `gift-${Math.random()}` }));
}

const HISTORY = `{ me { wallet { coins debt transactions(first: 10) { edges { node { type amount balanceAfter debtChange debtAfter reference } } } } } }`;

describe("refunds (admin)", () => {
  it("refund after part of the coins were spent: unspent coins are taken back, the rest is debt, and history shows both", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_700" });
    await spend(user, 500);
    const res = await stack.gql(REFUND, { id: order.id, reason: "customer complaint #123" }, admin);
    expect(res.errors).toBeUndefined();
    expect(res.data.refundRecharge.userErrors).toEqual([]);
    expect(res.data.refundRecharge.order).toMatchObject({ status: "REFUNDED", reversal: { coinsReversed: 200, debtRecorded: 500 } });
    expect(res.data.refundRecharge.order.reversal.reason).toContain("customer complaint #123");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 500 });

    const history = await stack.gql(HISTORY, {}, jwt);
    const types = history.data.me.wallet.transactions.edges.map((e: any) => e.node);
    expect(types[0]).toMatchObject({ type: "REFUND", amount: -200, debtChange: 500, balanceAfter: 0, debtAfter: 500, reference: order.id });
    expect(types[1]).toMatchObject({ type: "GIFT_SENT", amount: -500 });
    expect(types[2]).toMatchObject({ type: "RECHARGE", amount: 700, reference: order.id });
    await expectLedgerConsistent(stack, user);
  });

  it("the owner sees the reversal but not the operator's reason", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70" });
    await stack.gql(REFUND, { id: order.id, reason: "internal note" }, admin);
    const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status reversal { coinsReversed debtRecorded reason } } }`, { id: order.id }, jwt);
    expect(res.data.rechargeOrder).toEqual({ status: "REFUNDED", reversal: { coinsReversed: 70, debtRecorded: 0, reason: null } });
  });

  it("a later recharge repays the debt first; the rest becomes spendable", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_350" });
    await spend(user, 300);
    await stack.gql(REFUND, { id: order.id, reason: "fraud review" }, admin);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 300 });
    const second = await recharge(stack, jwt, { packageId: "pkg_US_700" });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 400, debt: 0 });
    expect(await ledgerFor(stack, second.order.id)).toEqual([
      { type: "RECHARGE", amount: 700, debt_change: 0 },
      { type: "DEBT_REPAID", amount: -300, debt_change: -300 },
    ]);
    await expectLedgerConsistent(stack, user);
  });

  it("a recharge smaller than the debt repays part of it and leaves nothing spendable", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_700" });
    await spend(user, 700);
    await stack.gql(REFUND, { id: order.id, reason: "r" }, admin);
    await recharge(stack, jwt, { packageId: "pkg_US_350" });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 350 });
    await expectLedgerConsistent(stack, user);
  });

  it("refunding twice (also 10 times in parallel) refunds once at the provider and reverses once", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_350" });
    const before = sandbox(stack).stats.refundsCreated;
    const results = await Promise.all(Array.from({ length: 10 }, () => stack.gql(REFUND, { id: order.id, reason: "dup" }, admin)));
    for (const r of results) expect(r.data.refundRecharge.order?.status ?? r.data.refundRecharge.userErrors[0].code).toBe("REFUNDED");
    expect(sandbox(stack).stats.refundsCreated - before).toBe(1);
    expect((await ledgerFor(stack, order.id)).filter((e) => e.type === "REFUND")).toHaveLength(1);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
  });

  it("a refund racing gift spending never overdraws: coins taken + debt always equal the order's coins", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_700" });
    const spends = Array.from({ length: 20 }, () => spend(user, 30).catch(() => "insufficient"));
    const refund = stack.gql(REFUND, { id: order.id, reason: "race" }, admin);
    await Promise.all([...spends, refund]);
    const { coins, debt } = await expectLedgerConsistent(stack, user);
    const spent = -(await stack.subgraphs.wallet.dataSource.query(`SELECT coalesce(sum(amount),0)::int AS s FROM wallet.ledger_entries WHERE user_id = $1 AND type = 'GIFT_SENT'`, [user]))[0].s;
    const [o] = await stack.subgraphs.wallet.dataSource.query(`SELECT coins_reversed::int, debt_recorded::int FROM wallet.recharge_orders WHERE id = $1`, [order.id]);
    expect(o.coins_reversed + o.debt_recorded).toBe(700);
    expect(debt).toBe(o.debt_recorded);
    // DESIGN's invariant: bought = held + spent on gifts + reversed; what was spent of this order is now owed.
    expect(coins + spent + o.coins_reversed).toBe(700);
    expect(coins).toBe(0);
    expect(debt).toBe(spent);
  });

  it("only admins may refund: a viewer gets FORBIDDEN and nothing changes", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70" });
    const res = await stack.gql(REFUND, { id: order.id, reason: "please" }, jwt);
    expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
  });

  it("refunding an order that did not succeed is INVALID_STATE; an unknown order is NOT_FOUND; an empty reason is INVALID_INPUT", async () => {
    const jwt = await tokenFor(uniqueUser());
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70", token: "pm_card_expired" });
    const failed = await stack.gql(REFUND, { id: order.id, reason: "x" }, admin);
    expect(failed.data.refundRecharge.userErrors[0].code).toBe("INVALID_STATE");
    const missing = await stack.gql(REFUND, { id: "00000000-0000-4000-8000-000000000000", reason: "x" }, admin);
    expect(missing.data.refundRecharge.userErrors[0].code).toBe("NOT_FOUND");
    const { order: ok } = await recharge(stack, jwt, { packageId: "pkg_US_70" });
    const empty = await stack.gql(REFUND, { id: ok.id, reason: "   " }, admin);
    expect(empty.data.refundRecharge.userErrors[0].code).toBe("INVALID_INPUT");
    const malformed = await stack.gql(REFUND, { id: "not-a-uuid", reason: "x" }, admin);
    expect(malformed.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("a refund the provider reports by webhook (refunded on its dashboard) is applied once", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_350" });
    const paymentId = await paymentIdOf(stack, order.id);
    const event = sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.refunded");
    await sandbox(stack).deliver(event);
    await sandbox(stack).deliver(event);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
    expect((await ledgerFor(stack, order.id)).map((e) => e.type)).toEqual(["RECHARGE", "REFUND"]);
  });
});

describe("chargebacks (provider webhook)", () => {
  it("a chargeback after partial spending takes back the unspent coins and records the rest as debt, once", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_1400" });
    // 1400 + 70 promotion bonus
    expect(order.totalCoins).toBe(1470);
    await spend(user, 1000);
    const paymentId = await paymentIdOf(stack, order.id);
    const event = await sandbox(stack).chargeback(paymentId);
    await sandbox(stack).deliver(event); // redelivery
    const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status reversal { coinsReversed debtRecorded } } }`, { id: order.id }, jwt);
    expect(res.data.rechargeOrder).toEqual({ status: "CHARGED_BACK", reversal: { coinsReversed: 470, debtRecorded: 1000 } });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 1000 });
    expect((await ledgerFor(stack, order.id)).map((e) => e.type)).toEqual(["RECHARGE", "BONUS", "CHARGEBACK"]);
    await expectLedgerConsistent(stack, user);
  });

  it("a chargeback arriving before the success webhook credits and reverses in one go (net zero)", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_350", token: "pm_async_ok" });
    const paymentId = await paymentIdOf(stack, order.id);
    const ev = sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.charged_back");
    await sandbox(stack).deliver(ev);
    await sandbox(stack).deliver(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
    expect((await ledgerFor(stack, order.id)).map((e) => e.type)).toEqual(["RECHARGE", "CHARGEBACK"]);
  });

  it("a chargeback on an already refunded order changes nothing more", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70" });
    await stack.gql(REFUND, { id: order.id, reason: "r" }, admin);
    const paymentId = await paymentIdOf(stack, order.id);
    await sandbox(stack).deliver(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 99, currency: "USD" }, "payment.charged_back"));
    expect((await ledgerFor(stack, order.id)).map((e) => e.type)).toEqual(["RECHARGE", "REFUND"]);
    await expectLedgerConsistent(stack, user);
  });
});
