import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { startStack, type Stack } from "../support/stack.js";
import { EntryType, postEntry } from "../../subgraphs/wallet/domain/ledger.js";
import { REFUND, expectLedgerConsistent, paymentIdOf, recharge, rechargeDirect, rechargeService, sandbox, tokenFor, uniqueUser } from "./support.js";

let stack: Stack;
beforeAll(async () => {
  // The ledger invariant, not the money rate limits (test/hardening covers those): up to 14 recharges by one user.
  stack = await startStack("history", { generousLimits: true });
});
afterAll(async () => {
  await stack?.stop();
});

const TX = `query($first: Int, $after: String, $type: TransactionType) { me { wallet { coins
  transactions(first: $first, after: $after, type: $type) { edges { cursor node { id type amount balanceAfter reference createdAt } } pageInfo { hasNextPage endCursor } } } } }`;

describe("transaction history", () => {
  it("is a Relay connection, newest first, that pages without gaps or repeats", async () => {
    const jwt = await tokenFor(uniqueUser());
    const amounts = [30, 31, 32, 33, 34, 35, 36];
    for (const c of amounts) await recharge(stack, jwt, { customCoins: c });
    const seen: number[] = [];
    let after: string | null = null;
    for (;;) {
      const res: any = await stack.gql(TX, { first: 3, after }, jwt);
      expect(res.errors).toBeUndefined();
      const conn = res.data.me.wallet.transactions;
      seen.push(...conn.edges.map((e: any) => e.node.amount));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual([...amounts].reverse());
  });

  it("links each purchase line to its order (price paid), all orders of a page in one SQL query", async () => {
    const jwt = await tokenFor(uniqueUser());
    for (const c of [30, 40, 50, 60]) await recharge(stack, jwt, { customCoins: c });
    await recharge(stack, jwt, { packageId: "pkg_US_1400" }); // RECHARGE + BONUS, same order
    const q = `{ me { wallet { transactions(first: 10) { edges { node { type amount rechargeOrder { id coins price { formatted } } } } } } } }`;
    const queries = stack.subgraphs.wallet.queries;
    queries.reset();
    const res = await stack.gql(q, {}, jwt);
    expect(res.errors).toBeUndefined();
    const nodes = res.data.me.wallet.transactions.edges.map((e: any) => e.node);
    expect(nodes[0]).toMatchObject({ type: "BONUS", amount: 70, rechargeOrder: { coins: 1400, price: { formatted: "$19.99" } } });
    expect(nodes[1].rechargeOrder.id).toBe(nodes[0].rechargeOrder.id);
    expect(nodes[2]).toMatchObject({ type: "RECHARGE", amount: 60, rechargeOrder: { coins: 60, price: { formatted: "$0.85" } } });
    expect(queries.queries.filter((sql) => /recharge_orders/.test(sql))).toHaveLength(1);
  });

  it("filters by type", async () => {
    const jwt = await tokenFor(uniqueUser());
    const admin = await tokenFor("history-admin", { roles: ["admin"] });
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70" });
    await recharge(stack, jwt, { packageId: "pkg_US_350" });
    await stack.gql(REFUND, { id: order.id, reason: "test" }, admin);
    const res = await stack.gql(TX, { type: "REFUND" }, jwt);
    expect(res.data.me.wallet.transactions.edges.map((e: any) => e.node)).toMatchObject([{ type: "REFUND", amount: -70, reference: order.id }]);
  });

  it("rejects a forged cursor and an out-of-range page size with BAD_USER_INPUT", async () => {
    const jwt = await tokenFor(uniqueUser());
    expect((await stack.gql(TX, { after: "bm90LWEtY3Vyc29y" }, jwt)).errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect((await stack.gql(TX, { first: 101 }, jwt)).errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect((await stack.gql(TX, { first: 0 }, jwt)).errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});

describe("recharge orders list", () => {
  const ORDERS = `query($first: Int, $after: String, $status: RechargeStatus) { me { wallet { rechargeOrders(first: $first, after: $after, status: $status) {
    edges { cursor node { id status coins } } pageInfo { hasNextPage endCursor } } } } }`;

  it("lists the caller's orders newest first, pages without gaps or repeats, and filters by status", async () => {
    const jwt = await tokenFor(uniqueUser());
    const ids: string[] = [];
    for (const [i, token] of ["pm_card_ok", "pm_card_expired", "pm_async_ok", "pm_card_ok", "pm_card_3ds"].entries()) {
      ids.push((await recharge(stack, jwt, { customCoins: 40 + i, token })).order.id);
    }
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const res: any = await stack.gql(ORDERS, { first: 2, after }, jwt);
      expect(res.errors).toBeUndefined();
      const conn = res.data.me.wallet.rechargeOrders;
      seen.push(...conn.edges.map((e: any) => e.node.id));
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual([...ids].reverse());
    const failed = await stack.gql(ORDERS, { status: "FAILED" }, jwt);
    expect(failed.data.me.wallet.rechargeOrders.edges.map((e: any) => e.node.coins)).toEqual([41]);
    const pending = await stack.gql(ORDERS, { status: "PENDING" }, jwt);
    expect(pending.data.me.wallet.rechargeOrders.edges.map((e: any) => e.node.coins)).toEqual([42]);
    expect((await stack.gql(ORDERS, { after: "garbage" }, jwt)).errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});

describe("the ledger invariant", () => {
  it("the database refuses a negative balance and any edit or deletion of ledger entries", async () => {
    const user = uniqueUser();
    await stack.subgraphs.wallet.dataSource.query(`INSERT INTO wallet.accounts (user_id) VALUES ($1)`, [user]);
    await expect(stack.subgraphs.wallet.dataSource.query(`UPDATE wallet.accounts SET coins = -1 WHERE user_id = $1`, [user])).rejects.toThrow(/check/i);
    await recharge(stack, await tokenFor(user), { packageId: "pkg_US_70" });
    await expect(stack.subgraphs.wallet.dataSource.query(`DELETE FROM wallet.ledger_entries WHERE user_id = $1`, [user])).rejects.toThrow(/append-only/);
    await expect(stack.subgraphs.wallet.dataSource.query(`UPDATE wallet.ledger_entries SET amount = 0 WHERE id = (SELECT min(id) FROM wallet.ledger_entries)`)).rejects.toThrow(/append-only/);
  });

  it("after any mix of concurrent recharges, gifts, refunds and chargebacks, balance = sum of entries and bought + bonus = held + spent + reversed", async () => {
    const admin = await tokenFor("inv-admin", { roles: ["admin"] });
    const svc = rechargeService(stack);
    const saved = { ...svc.velocity };
    svc.velocity.maxOrdersPerHour = 10_000;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.oneof(fc.constant("buy"), fc.constant("buy3ds"), fc.constant("spend"), fc.constant("refund"), fc.constant("chargeback")), { minLength: 4, maxLength: 14 }),
          async (ops) => {
            const user = uniqueUser("inv");
            const jwt = await tokenFor(user);
            const orders: string[] = [];
            await Promise.all(
              ops.map(async (op, i) => {
                if (op === "buy" || op === "buy3ds") {
                  const r = await rechargeDirect(stack, jwt, { customCoins: 30 + i * 7, token: op === "buy" ? "pm_card_ok" : "pm_card_3ds", key: `inv-${i}` });
                  if (r.order) orders.push(r.order.id);
                  if (op === "buy3ds" && r.order) await stack.gql(`mutation($id: ID!) { confirmRecharge(orderId: $id) { order { id } } }`, { id: r.order.id }, jwt);
                } else if (op === "spend") {
                  await stack.subgraphs.wallet.dataSource
                    .transaction((m) => postEntry(m, { userId: user, type: EntryType.GIFT_SENT, amount: -25, reference: `g-${i}` }))
                    .catch(() => undefined);
                } else if (op === "refund" && orders.length) {
                  await stack.gql(REFUND, { id: orders[0], reason: "prop" }, admin);
                } else if (op === "chargeback" && orders.length) {
                  const paymentId = await paymentIdOf(stack, orders[orders.length - 1]);
                  // Only a paid, not yet disputed payment can be charged back at the provider.
                  await sandbox(stack).chargeback(paymentId).catch(() => undefined);
                }
              }),
            );
            const { coins } = await expectLedgerConsistent(stack, user);
            const [t] = await stack.subgraphs.wallet.dataSource.query(
              `SELECT coalesce(sum(amount) FILTER (WHERE type IN ('RECHARGE','BONUS')), 0)::int AS bought,
                      coalesce(-sum(amount) FILTER (WHERE type = 'GIFT_SENT'), 0)::int AS spent,
                      coalesce(-sum(amount) FILTER (WHERE type IN ('REFUND','CHARGEBACK','DEBT_REPAID')), 0)::int AS reversed
                 FROM wallet.ledger_entries WHERE user_id = $1`,
              [user],
            );
            expect(t.bought).toBe(coins + t.spent + t.reversed);
            // Credits match orders exactly: one RECHARGE entry per SUCCEEDED/REFUNDED order, none for others.
            const [c] = await stack.subgraphs.wallet.dataSource.query(
              `SELECT (SELECT count(*) FROM wallet.recharge_orders WHERE user_id = $1 AND status IN ('SUCCEEDED','REFUNDED','CHARGED_BACK'))::int AS paid,
                      (SELECT count(*) FROM wallet.ledger_entries WHERE user_id = $1 AND type = 'RECHARGE')::int AS credits`,
              [user],
            );
            expect(c.credits).toBe(c.paid);
          },
        ),
        { numRuns: 8 },
      );
    } finally {
      Object.assign(svc.velocity, saved);
    }
  });
});
