import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { RECHARGE, recharge, rechargeDirect, rechargeInput, rechargeService, tokenFor, uniqueUser, walletOf } from "./support.js";

// This file is about the wallet's velocity and spending limits; the per-user burst guard on recharge
// (10 at once, also enforced by the wallet) is tested in test/hardening/money-guards.test.ts.
process.env.MONEY_RATE_LIMITS ??= "recharge=100000:6000000";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("limits");
});
afterAll(async () => {
  await stack?.stop();
});

const ordersOf = async (user: string) =>
  (await stack.subgraphs.wallet.dataSource.query(`SELECT count(*)::int AS n FROM wallet.recharge_orders WHERE user_id = $1`, [user]))[0].n as number;

const SET_LIMIT = `mutation($input: SetSpendingLimitInput!) { setSpendingLimit(input: $input) {
  deferred spendingLimit { period amount { amountMinor currency formatted } spent { amountMinor } remaining { amountMinor } pending { period amount { amountMinor } removes effectiveAt } }
  userErrors { code field } } }`;
const LIMIT = `{ me { wallet { spendingLimit { period amount { amountMinor currency } spent { amountMinor } remaining { amountMinor } pending { removes amount { amountMinor } effectiveAt } } } } }`;

describe("who may buy", () => {
  it("only adults: a token without the adult claim gets NOT_ADULT and no order is created", async () => {
    const user = uniqueUser("minor");
    const jwt = await tokenFor(user, { adult: false });
    const { order, userErrors } = await recharge(stack, jwt, { packageId: "pkg_US_70" });
    expect(order).toBeNull();
    expect(userErrors[0].code).toBe("NOT_ADULT");
    expect(await ordersOf(user)).toBe(0);
  });

  it("an anonymous caller gets UNAUTHENTICATED", async () => {
    const res = await stack.gql(RECHARGE, { input: rechargeInput({ packageId: "pkg_US_70" }) });
    expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("someone else's order is FORBIDDEN; an unknown one is null", async () => {
    const owner = await tokenFor(uniqueUser());
    const { order } = await recharge(stack, owner, { packageId: "pkg_US_70" });
    const other = await tokenFor(uniqueUser("nosy"));
    const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { id } }`, { id: order.id }, other);
    expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const none = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { id } }`, { id: "00000000-0000-4000-8000-000000000000" }, other);
    expect(none.data.rechargeOrder).toBeNull();
  });
});

describe("input rules", () => {
  it("custom amounts are priced at the region's per-coin price, rounded half-up to the minor unit", async () => {
    const q = `query($r: String) { rechargeOptions(region: $r) { region currency paymentMethods minCustomCoins maxCustomCoins
      a: customPrice(coins: 30) { amountMinor formatted } b: customPrice(coins: 35) { amountMinor } c: customPrice(coins: 2500000) { amountMinor } } }`;
    const us = (await stack.gql(q, { r: "US" })).data.rechargeOptions;
    // 30 × 99/70 = 42.43 → 42; 35 × 99/70 = 49.5 → 50 (half-up); 2,500,000 × 99/70 = 3,535,714.29 → 3,535,714
    expect(us).toMatchObject({ region: "US", currency: "USD", minCustomCoins: 30, maxCustomCoins: 2_500_000, a: { amountMinor: 42, formatted: "$0.42" }, b: { amountMinor: 50 }, c: { amountMinor: 3_535_714 } });
    const jp = (await stack.gql(q, { r: "JP" })).data.rechargeOptions;
    // JPY has no minor unit: 30 × 160/70 = 68.57 → ¥69
    expect(jp).toMatchObject({ currency: "JPY", a: { amountMinor: 69, formatted: "¥69" } });
    expect(jp.paymentMethods).toContain("KONBINI");
  });

  it("a custom recharge charges exactly the quoted price and credits the coins", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user, { region: "JP" });
    const { order } = await recharge(stack, jwt, { customCoins: 31 });
    // 31 × 160/70 = 70.857 → ¥71
    expect(order).toMatchObject({ status: "SUCCEEDED", coins: 31, packageId: null, price: { amountMinor: 71, currency: "JPY", formatted: "¥71" } });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 31, debt: 0 });
  });

  it.each([29, 2_500_001, 0, -5])("customCoins %i is INVALID_INPUT and creates no order", async (coins) => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order, userErrors } = await recharge(stack, jwt, { customCoins: coins });
    expect(order).toBeNull();
    expect(userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "customCoins"] });
    expect(await ordersOf(user)).toBe(0);
  });

  it("both or neither of packageId and customCoins is BAD_USER_INPUT", async () => {
    const jwt = await tokenFor(uniqueUser());
    const both = await stack.gql(RECHARGE, { input: rechargeInput({ packageId: "pkg_US_70", customCoins: 100 }) }, jwt);
    expect(both.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const neither = await stack.gql(RECHARGE, { input: rechargeInput({}) }, jwt);
    expect(neither.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    const badKey = await stack.gql(RECHARGE, { input: rechargeInput({ packageId: "pkg_US_70", key: "has space" }) }, jwt);
    expect(badKey.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("a package from another region is NOT_FOUND; buying at another region's prices is refused", async () => {
    const jwt = await tokenFor(uniqueUser(), { region: "US" });
    expect((await recharge(stack, jwt, { packageId: "pkg_IN_70" })).userErrors[0].code).toBe("NOT_FOUND");
    expect((await recharge(stack, jwt, { packageId: "pkg_IN_70", region: "IN" })).userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "region"] });
    expect((await recharge(stack, jwt, { packageId: "pkg_US_70", region: "ZZ" })).userErrors[0].code).toBe("UNKNOWN_REGION");
    const malformed = await stack.gql(RECHARGE, { input: rechargeInput({ packageId: "pkg_US_70", region: "USA" }) }, jwt);
    expect(malformed.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("a regional payment method works in its region and is PAYMENT_METHOD_NOT_AVAILABLE elsewhere", async () => {
    const india = await tokenFor(uniqueUser(), { region: "IN" });
    const ok = await recharge(stack, india, { packageId: "pkg_IN_70", type: "UPI" });
    expect(ok.order).toMatchObject({ status: "SUCCEEDED", paymentMethodType: "UPI", price: { amountMinor: 8900, currency: "INR", formatted: "₹89" } });
    const us = await tokenFor(uniqueUser(), { region: "US" });
    expect((await recharge(stack, us, { packageId: "pkg_US_70", type: "UPI" })).userErrors[0].code).toBe("PAYMENT_METHOD_NOT_AVAILABLE");
  });

  it("a user from an unsupported region buys at US prices in USD", async () => {
    const jwt = await tokenFor(uniqueUser(), { region: "FR" });
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_70" });
    expect(order).toMatchObject({ status: "SUCCEEDED", region: "US", price: { currency: "USD" } });
  });
});

describe("velocity limits", () => {
  it("the 11th order in an hour is RATE_LIMITED with retryAfterSeconds; declined attempts count too", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    for (let i = 0; i < 10; i++) {
      const r = await rechargeDirect(stack, jwt, { packageId: "pkg_US_70", token: i % 2 ? "pm_card_ok" : "pm_card_declined_insufficient_funds" });
      expect(r.order).not.toBeNull();
    }
    const eleventh = await rechargeDirect(stack, jwt, { packageId: "pkg_US_70" });
    expect(eleventh.order).toBeNull();
    expect(eleventh.userErrors[0].code).toBe("RATE_LIMITED");
    expect(eleventh.userErrors[0].retryAfterSeconds).toBeGreaterThan(3000);
    expect(eleventh.userErrors[0].retryAfterSeconds).toBeLessThanOrEqual(3600);
    expect(await ordersOf(user)).toBe(10);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
  });

  it("20 parallel orders with distinct keys against a limit of 10: exactly 10 go through", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => rechargeDirect(stack, jwt, { packageId: "pkg_US_70", key: `v-${i}` })));
    expect(results.filter((r) => r.order?.status === "SUCCEEDED")).toHaveLength(10);
    expect(results.filter((r) => r.userErrors[0]?.code === "RATE_LIMITED")).toHaveLength(10);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 700, debt: 0 });
  });

  it("coins per day: an order that would pass the daily maximum is LIMIT_EXCEEDED with when to retry", async () => {
    const svc = rechargeService(stack);
    const saved = { ...svc.velocity };
    svc.velocity.maxCoinsPerDay = 1000;
    try {
      const jwt = await tokenFor(uniqueUser());
      expect((await recharge(stack, jwt, { packageId: "pkg_US_700" })).order.status).toBe("SUCCEEDED");
      const over = await recharge(stack, jwt, { packageId: "pkg_US_350" });
      expect(over.userErrors[0].code).toBe("LIMIT_EXCEEDED");
      expect(over.userErrors[0].retryAfterSeconds).toBeGreaterThan(86_000);
      // A smaller order still fits.
      expect((await recharge(stack, jwt, { customCoins: 300 })).order.status).toBe("SUCCEEDED");
    } finally {
      Object.assign(svc.velocity, saved);
    }
  });
});

describe("spending limit", () => {
  it("a daily limit is enforced at purchase with LIMIT_EXCEEDED and when to retry, and the wallet shows spent/remaining", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const set = await stack.gql(SET_LIMIT, { input: { period: "DAY", amountMinor: 1000 } }, jwt);
    expect(set.data.setSpendingLimit).toMatchObject({ deferred: false, userErrors: [], spendingLimit: { period: "DAY", amount: { amountMinor: 1000, currency: "USD", formatted: "$10" } } });
    expect((await recharge(stack, jwt, { packageId: "pkg_US_700" })).order.status).toBe("SUCCEEDED"); // $9.99
    const over = await recharge(stack, jwt, { packageId: "pkg_US_70" }); // +$0.99 > $10
    expect(over.order).toBeNull();
    expect(over.userErrors[0].code).toBe("LIMIT_EXCEEDED");
    expect(over.userErrors[0].retryAfterSeconds).toBeGreaterThan(86_000);
    const view = await stack.gql(LIMIT, {}, jwt);
    expect(view.data.me.wallet.spendingLimit).toMatchObject({ spent: { amountMinor: 999 }, remaining: { amountMinor: 1 }, pending: null });
    expect(await walletOf(stack, jwt)).toEqual({ coins: 700, debt: 0 });
  });

  it("declined orders do not use up the limit; pending ones do", async () => {
    const jwt = await tokenFor(uniqueUser());
    await stack.gql(SET_LIMIT, { input: { period: "WEEK", amountMinor: 500 } }, jwt);
    await recharge(stack, jwt, { packageId: "pkg_US_350", token: "pm_card_expired" });
    expect((await recharge(stack, jwt, { packageId: "pkg_US_350", token: "pm_async_ok" })).order.status).toBe("PENDING");
    expect((await recharge(stack, jwt, { packageId: "pkg_US_70" })).userErrors[0].code).toBe("LIMIT_EXCEEDED");
  });

  it("10 parallel $0.99 orders against a $5 limit: exactly 5 go through", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    await stack.gql(SET_LIMIT, { input: { period: "MONTH", amountMinor: 500 } }, jwt);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => rechargeDirect(stack, jwt, { packageId: "pkg_US_70", key: `s-${i}` })));
    expect(results.filter((r) => r.order?.status === "SUCCEEDED")).toHaveLength(5);
    expect(results.filter((r) => r.userErrors[0]?.code === "LIMIT_EXCEEDED")).toHaveLength(5);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
  });

  it("lowering applies at once; raising or removing waits 24 hours and the old limit still applies meanwhile", async () => {
    const jwt = await tokenFor(uniqueUser());
    await stack.gql(SET_LIMIT, { input: { period: "DAY", amountMinor: 5000 } }, jwt);
    const lower = await stack.gql(SET_LIMIT, { input: { period: "DAY", amountMinor: 100 } }, jwt);
    expect(lower.data.setSpendingLimit).toMatchObject({ deferred: false, spendingLimit: { amount: { amountMinor: 100 }, pending: null } });
    const raise = await stack.gql(SET_LIMIT, { input: { period: "DAY", amountMinor: 100_000 } }, jwt);
    expect(raise.data.setSpendingLimit.deferred).toBe(true);
    expect(raise.data.setSpendingLimit.spendingLimit).toMatchObject({ amount: { amountMinor: 100 }, pending: { removes: false, amount: { amountMinor: 100_000 } } });
    const effectiveAt = new Date(raise.data.setSpendingLimit.spendingLimit.pending.effectiveAt).getTime();
    expect(effectiveAt - Date.now()).toBeGreaterThan(23 * 3600_000);
    expect((await recharge(stack, jwt, { packageId: "pkg_US_350" })).userErrors[0].code).toBe("LIMIT_EXCEEDED");
    const remove = await stack.gql(SET_LIMIT, { input: {} }, jwt);
    expect(remove.data.setSpendingLimit).toMatchObject({ deferred: true, spendingLimit: { amount: { amountMinor: 100 }, pending: { removes: true } } });
  });

  it("a limit of 0 blocks every purchase", async () => {
    const jwt = await tokenFor(uniqueUser());
    await stack.gql(SET_LIMIT, { input: { period: "MONTH", amountMinor: 0 } }, jwt);
    expect((await recharge(stack, jwt, { customCoins: 30 })).userErrors[0].code).toBe("LIMIT_EXCEEDED");
  });

  it("a negative amount is INVALID_INPUT; a period without an amount is BAD_USER_INPUT", async () => {
    const jwt = await tokenFor(uniqueUser());
    const neg = await stack.gql(SET_LIMIT, { input: { period: "DAY", amountMinor: -1 } }, jwt);
    expect(neg.data.setSpendingLimit.userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "amountMinor"] });
    const half = await stack.gql(SET_LIMIT, { input: { period: "DAY" } }, jwt);
    expect(half.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});
