import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { until } from "../support/eventually.js";
import { startStack, type Stack } from "../support/stack.js";
import { ProviderUnavailable } from "../../subgraphs/wallet/domain/payments/provider.js";
import {
  CONFIRM,
  RECHARGE,
  rechargeInput,
  expectLedgerConsistent,
  ledgerFor,
  recharge,
  rechargeDirect,
  sandbox,
  tokenFor,
  uniqueUser,
  walletOf,
} from "./support.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("recharge");
});
afterAll(async () => {
  await stack?.stop();
});

describe("recharge with each sandbox payment method", () => {
  it("pm_card_ok: the order SUCCEEDS at once and the package's coins are credited once", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order, userErrors } = await recharge(stack, jwt, { packageId: "pkg_US_70" });
    expect(userErrors).toEqual([]);
    expect(order).toMatchObject({ status: "SUCCEEDED", coins: 70, bonusCoins: 0, totalCoins: 70, price: { amountMinor: 99, currency: "USD", formatted: "$0.99" }, packageId: "pkg_US_70", region: "US" });
    expect(order.completedAt).not.toBeNull();
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
    expect(await ledgerFor(stack, order.id)).toEqual([{ type: "RECHARGE", amount: 70, debt_change: 0 }]);
    await expectLedgerConsistent(stack, user);
  });

  it.each([
    ["pm_card_declined_insufficient_funds", "INSUFFICIENT_FUNDS", "PAYMENT_DECLINED"],
    ["pm_card_declined_stolen", "CARD_DECLINED", "PAYMENT_DECLINED"],
    ["pm_card_expired", "EXPIRED_CARD", "PAYMENT_DECLINED"],
  ])("%s: the order FAILS with failureCode %s, a %s userError, and no coins", async (token, failureCode, code) => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order, userErrors } = await recharge(stack, jwt, { packageId: "pkg_US_350", token });
    expect(order).toMatchObject({ status: "FAILED", failureCode, coins: 350 });
    expect(userErrors.map((e) => e.code)).toEqual([code]);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
    expect(await ledgerFor(stack, order.id)).toEqual([]);
  });

  it("a stolen card is reported to the client as a generic decline, never as 'stolen'", async () => {
    const jwt = await tokenFor(uniqueUser());
    const { order, userErrors } = await recharge(stack, jwt, { packageId: "pkg_US_70", token: "pm_card_declined_stolen" });
    expect(JSON.stringify({ order, userErrors }).toLowerCase()).not.toContain("stolen");
  });

  it("pm_card_3ds: REQUIRES_ACTION with a 3-D Secure redirect, no coins until confirmRecharge, then SUCCEEDED once", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_700", token: "pm_card_3ds" });
    expect(order.status).toBe("REQUIRES_ACTION");
    expect(order.nextAction).toMatchObject({ type: "THREE_D_SECURE" });
    expect(order.nextAction.redirectUrl).toMatch(/^https:\/\//);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });

    const confirmed = await stack.gql(CONFIRM, { id: order.id }, jwt);
    expect(confirmed.data.confirmRecharge.userErrors).toEqual([]);
    expect(confirmed.data.confirmRecharge.order).toMatchObject({ status: "SUCCEEDED", nextAction: null });
    // Confirming again is a harmless replay.
    const again = await stack.gql(CONFIRM, { id: order.id }, jwt);
    expect(again.data.confirmRecharge.order.status).toBe("SUCCEEDED");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 700, debt: 0 });
    expect(await ledgerFor(stack, order.id)).toHaveLength(1);
  });

  it("10 parallel confirmRecharge calls on one 3-D Secure order credit it once", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70", token: "pm_card_3ds" });
    const results = await Promise.all(Array.from({ length: 10 }, () => stack.gql(CONFIRM, { id: order.id }, jwt)));
    for (const r of results) {
      // The gateway may refuse some of the burst (RATE_LIMITED); none may credit twice.
      if (r.data?.confirmRecharge) expect(r.data.confirmRecharge.order.status).toBe("SUCCEEDED");
    }
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
    expect(await ledgerFor(stack, order.id)).toHaveLength(1);
  });

  it("confirmRecharge on someone else's order is NOT_FOUND and changes nothing", async () => {
    const owner = await tokenFor(uniqueUser());
    const { order } = await recharge(stack, owner, { packageId: "pkg_US_70", token: "pm_card_3ds" });
    const mallory = await tokenFor(uniqueUser("mallory"));
    const res = await stack.gql(CONFIRM, { id: order.id }, mallory);
    expect(res.data.confirmRecharge.userErrors[0].code).toBe("NOT_FOUND");
    expect(await walletOf(stack, owner)).toEqual({ coins: 0, debt: 0 });
  });

  it("confirmRecharge on an order that needs no action is INVALID_STATE", async () => {
    const jwt = await tokenFor(uniqueUser());
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70", token: "pm_async_ok" });
    expect(order.status).toBe("PENDING");
    const res = await stack.gql(CONFIRM, { id: order.id }, jwt);
    expect(res.data.confirmRecharge.userErrors[0].code).toBe("INVALID_STATE");
  });

  it("pm_async_ok: PENDING with no coins until the provider's webhook, then SUCCEEDED", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_350", token: "pm_async_ok" });
    expect(order.status).toBe("PENDING");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
    const [row] = await stack.subgraphs.wallet.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [order.id]);
    await sandbox(stack).settle(row.provider_payment_id);
    const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status } }`, { id: order.id }, jwt);
    expect(res.data.rechargeOrder.status).toBe("SUCCEEDED");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
    await expectLedgerConsistent(stack, user);
  });

  it("pm_async_fail: PENDING, then FAILED by the webhook, with no coins", async () => {
    const jwt = await tokenFor(uniqueUser());
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_350", token: "pm_async_fail" });
    expect(order.status).toBe("PENDING");
    const [row] = await stack.subgraphs.wallet.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [order.id]);
    await sandbox(stack).settle(row.provider_payment_id);
    const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status failureCode } }`, { id: order.id }, jwt);
    expect(res.data.rechargeOrder).toEqual({ status: "FAILED", failureCode: "PAYMENT_FAILED" });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
  });

  it("an unknown payment token FAILS the order with INVALID_PAYMENT_METHOD and charges nothing", async () => {
    const jwt = await tokenFor(uniqueUser());
    const { order, userErrors } = await recharge(stack, jwt, { packageId: "pkg_US_70", token: "pm_made_up" });
    expect(order).toMatchObject({ status: "FAILED", failureCode: "INVALID_PAYMENT_METHOD" });
    expect(userErrors[0].code).toBe("PAYMENT_FAILED");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
  });
});

describe("idempotency (Stripe semantics)", () => {
  it("the same key with the same input returns the original order and charges once", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const first = await recharge(stack, jwt, { packageId: "pkg_US_70", key: "same-key" });
    const second = await recharge(stack, jwt, { packageId: "pkg_US_70", key: "same-key" });
    expect(second.order.id).toBe(first.order.id);
    expect(second.order.status).toBe("SUCCEEDED");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
  });

  it("the same key with a different input is IDEMPOTENCY_KEY_REUSED and changes nothing", async () => {
    const jwt = await tokenFor(uniqueUser());
    await recharge(stack, jwt, { packageId: "pkg_US_70", key: "k1" });
    const other = await recharge(stack, jwt, { packageId: "pkg_US_350", key: "k1" });
    expect(other.order).toBeNull();
    expect(other.userErrors[0]).toMatchObject({ code: "IDEMPOTENCY_KEY_REUSED", field: ["input", "idempotencyKey"] });
    const otherToken = await recharge(stack, jwt, { packageId: "pkg_US_70", key: "k1", token: "pm_card_3ds" });
    expect(otherToken.userErrors[0].code).toBe("IDEMPOTENCY_KEY_REUSED");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
  });

  it("keys are per user: two users may use the same key independently", async () => {
    const a = await tokenFor(uniqueUser());
    const b = await tokenFor(uniqueUser());
    const ra = await recharge(stack, a, { packageId: "pkg_US_70", key: "shared" });
    const rb = await recharge(stack, b, { packageId: "pkg_US_350", key: "shared" });
    expect(ra.order.id).not.toBe(rb.order.id);
    expect(rb.userErrors).toEqual([]);
  });

  it("a declined order is replayed as the same FAILED order; a new attempt needs a new key", async () => {
    const jwt = await tokenFor(uniqueUser());
    const first = await recharge(stack, jwt, { packageId: "pkg_US_70", token: "pm_card_expired", key: "decl" });
    const again = await recharge(stack, jwt, { packageId: "pkg_US_70", token: "pm_card_expired", key: "decl" });
    expect(again.order.id).toBe(first.order.id);
    expect(again.userErrors[0].code).toBe("PAYMENT_DECLINED");
  });

  it("50 parallel recharge calls with one key → one order, one provider charge, one credit", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const before = sandbox(stack).stats.paymentsCreated;
    const results = await Promise.all(Array.from({ length: 50 }, () => rechargeDirect(stack, jwt, { packageId: "pkg_US_700", key: "burst-one-key" })));
    const ids = new Set(results.map((r) => r.order?.id));
    expect(ids.size).toBe(1);
    for (const r of results) expect(r.order.status).toBe("SUCCEEDED");
    expect(sandbox(stack).stats.paymentsCreated - before).toBe(1);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 700, debt: 0 });
    const { entries } = await expectLedgerConsistent(stack, user);
    expect(entries).toHaveLength(1);
  });

  it("50 parallel recharge calls with distinct keys → 50 orders and exactly the sum of their coins", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const svc = stack.subgraphs.wallet.services.recharge;
    const saved = { ...svc.velocity };
    svc.velocity.maxOrdersPerHour = 1000; // this test is about concurrency, not the hourly cap
    const savedBurst = { ...svc.limiter.rules.recharge };
    svc.limiter.rules.recharge = { capacity: 1000, refillPerSecond: 1000 }; // nor the per-user burst (test/hardening/money-guards.test.ts)
    try {
      const results = await Promise.all(Array.from({ length: 50 }, (_, i) => rechargeDirect(stack, jwt, { customCoins: 100 + i, key: `distinct-${i}` })));
      expect(results.every((r) => r.order?.status === "SUCCEEDED")).toBe(true);
      expect(new Set(results.map((r) => r.order.id)).size).toBe(50);
      const expected = Array.from({ length: 50 }, (_, i) => 100 + i).reduce((a, b) => a + b, 0);
      expect(await walletOf(stack, jwt)).toEqual({ coins: expected, debt: 0 });
      const { entries } = await expectLedgerConsistent(stack, user);
      expect(entries).toHaveLength(50);
    } finally {
      Object.assign(svc.velocity, saved);
      svc.limiter.rules.recharge = savedBurst;
    }
  });

  it("through the gateway, 50 parallel calls with one key are one order and one charge (the gateway may refuse part of the burst with RATE_LIMITED)", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const before = sandbox(stack).stats.paymentsCreated;
    const results = await Promise.all(Array.from({ length: 50 }, () => stack.gql(RECHARGE, { input: rechargeInput({ packageId: "pkg_US_350", key: "gw-burst" }) }, jwt)));
    const orders = results.map((r) => r.data?.recharge?.order).filter(Boolean);
    const refused = results.filter((r) => r.errors?.[0]?.extensions?.code === "RATE_LIMITED");
    expect(orders.length + refused.length).toBe(50);
    expect(orders.length).toBeGreaterThan(0);
    expect(new Set(orders.map((o: any) => o.id)).size).toBe(1);
    expect(sandbox(stack).stats.paymentsCreated - before).toBe(1);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
  });

  it("keys are kept: a retry more than 24 hours later still returns the original order without charging", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const first = await recharge(stack, jwt, { packageId: "pkg_US_70", key: "old-key" });
    const ds = stack.subgraphs.wallet.dataSource;
    await ds.query(`UPDATE wallet.recharge_orders SET created_at = now() - interval '25 hours' WHERE id = $1`, [first.order.id]);
    await ds.query(`UPDATE wallet.idempotency_keys SET created_at = now() - interval '25 hours' WHERE user_id = $1`, [user]);
    const before = sandbox(stack).stats.paymentsCreated;
    const later = await recharge(stack, jwt, { packageId: "pkg_US_70", key: "old-key" });
    expect(later.order.id).toBe(first.order.id);
    expect(sandbox(stack).stats.paymentsCreated).toBe(before);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
  });

  it("a duplicate arriving while the original is still waiting for the provider waits for it instead of charging again", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const provider = sandbox(stack);
    // Hold the provider call open until the duplicate has certainly arrived and is waiting.
    const original = provider.createPayment.bind(provider);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    provider.createPayment = async (req) => {
      calls++;
      await gate;
      return original(req);
    };
    try {
      const first = rechargeDirect(stack, jwt, { packageId: "pkg_US_70", key: "in-flight" });
      await until(async () => (await stack.subgraphs.wallet.dataSource.query(`SELECT 1 FROM wallet.recharge_orders WHERE user_id = $1`, [user])).length === 1, "the order row", 10_000);
      const second = rechargeDirect(stack, jwt, { packageId: "pkg_US_70", key: "in-flight" });
      const [orderRow] = await stack.subgraphs.wallet.dataSource.query(`SELECT status FROM wallet.recharge_orders WHERE user_id = $1`, [user]);
      expect(orderRow.status).toBe("PROCESSING");
      release();
      const [a, b] = await Promise.all([first, second]);
      expect(b.order.id).toBe(a.order.id);
      expect(b.order.status).toBe("SUCCEEDED");
      expect(calls).toBe(1);
      expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
    } finally {
      provider.createPayment = original;
      release();
    }
  });
});

describe("failures in the middle", () => {
  it("when the provider cannot be reached the order stays PENDING with no coins; a retry with the same key completes it with one charge", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const provider = sandbox(stack);
    const svc = stack.subgraphs.wallet.services.recharge;
    const original = provider.createPayment.bind(provider);
    provider.createPayment = async () => {
      throw new ProviderUnavailable("connect ETIMEDOUT");
    };
    const savedStale = svc.staleProcessingMs;
    try {
      const first = await recharge(stack, jwt, { packageId: "pkg_US_70", key: "flaky" });
      expect(first.order.status).toBe("PENDING");
      expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
      provider.createPayment = original;
      svc.staleProcessingMs = 0; // treat the interrupted order as stale at once
      const before = provider.stats.paymentsCreated;
      const retry = await recharge(stack, jwt, { packageId: "pkg_US_70", key: "flaky" });
      expect(retry.order).toMatchObject({ id: first.order.id, status: "SUCCEEDED" });
      expect(provider.stats.paymentsCreated - before).toBe(1);
      expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
    } finally {
      provider.createPayment = original;
      svc.staleProcessingMs = savedStale;
    }
  });

  it("neither the payment token nor card data is stored anywhere in the wallet's tables", async () => {
    const jwt = await tokenFor(uniqueUser());
    const secretToken = "pm_card_ok";
    await recharge(stack, jwt, { packageId: "pkg_US_70", token: secretToken, key: "no-token-stored" });
    const ds = stack.subgraphs.wallet.dataSource;
    for (const table of ["recharge_orders", "idempotency_keys", "recharge_order_events", "payment_webhook_events", "ledger_entries"]) {
      const [{ n }] = await ds.query(`SELECT count(*)::int AS n FROM wallet.${table} t WHERE t::text LIKE '%' || $1 || '%'`, [secretToken]);
      expect(n, table).toBe(0);
    }
  });

  it("in development mode the sandbox settles pm_async_ok by itself and its signed webhook credits the order", async () => {
    const provider = sandbox(stack);
    const saved = { ...provider.options };
    provider.options.autoWebhooks = true;
    provider.options.autoSettleMs = 20;
    try {
      const jwt = await tokenFor(uniqueUser());
      const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70", token: "pm_async_ok" });
      expect(order.status).toBe("PENDING");
      await until(async () => (await walletOf(stack, jwt)).coins === 70, "the 70 coins credited", 10_000);
      const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status } }`, { id: order.id }, jwt);
      expect(res.data.rechargeOrder.status).toBe("SUCCEEDED");
    } finally {
      Object.assign(provider.options, saved);
    }
  });
});
