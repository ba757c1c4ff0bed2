import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { startStack, type Stack } from "../support/stack.js";
import { formatMoney, priceForCoins, toDecimalString } from "../../platform/money.js";
import { seedWallet } from "../../subgraphs/wallet/domain/seed.js";
import { recharge, tokenFor, uniqueUser } from "./support.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("packages");
});
afterAll(async () => {
  await stack?.stop();
});

const PACKAGES = `query($r: String) { coinPackages(region: $r) { id region coins bonusCoins totalCoins promotion { bonusCoins endsAt } price { amountMinor currency formatted } } }`;

describe("coin packages", () => {
  it("are public and seeded for US in USD, 70 coins for $0.99 up to 7,000, smallest first", async () => {
    const res = await stack.gql(PACKAGES, { r: "US" });
    expect(res.errors).toBeUndefined();
    const pkgs = res.data.coinPackages;
    expect(pkgs.map((p: any) => p.coins)).toEqual([70, 350, 700, 1400, 3500, 7000]);
    expect(pkgs[0]).toMatchObject({ id: "pkg_US_70", region: "US", bonusCoins: 0, promotion: null, price: { amountMinor: 99, currency: "USD", formatted: "$0.99" } });
  });

  it.each([
    ["GB", "GBP", 99, "£0.99"],
    ["DE", "EUR", 109, "1,09\u00a0€"],
    ["JP", "JPY", 160, "¥160"],
    ["IN", "INR", 8900, "₹89"],
  ])("are priced per region: %s in %s (70 coins = %i minor units, shown as %s)", async (region, currency, amountMinor, formatted) => {
    const pkgs = (await stack.gql(PACKAGES, { r: region })).data.coinPackages;
    expect(pkgs[0]).toMatchObject({ region, coins: 70, price: { amountMinor, currency, formatted } });
  });

  it("carry the active promotion's bonus coins and end time", async () => {
    const pkgs = (await stack.gql(PACKAGES, { r: "US" })).data.coinPackages;
    const p1400 = pkgs.find((p: any) => p.coins === 1400);
    expect(p1400).toMatchObject({ bonusCoins: 70, totalCoins: 1470, promotion: { bonusCoins: 70 } });
    expect(new Date(p1400.promotion.endsAt).getTime()).toBeGreaterThan(Date.now());
  });

  it("an ended promotion no longer adds a bonus, and an order placed under a promotion keeps its bonus", async () => {
    const ds = stack.subgraphs.wallet.dataSource;
    await ds.query(`INSERT INTO wallet.coin_promotions (package_id, bonus_coins, starts_at, ends_at) VALUES ('pkg_GB_350', 35, now() - interval '2 days', now() - interval '1 day')`);
    const gb = (await stack.gql(PACKAGES, { r: "GB" })).data.coinPackages;
    expect(gb.find((p: any) => p.coins === 350)).toMatchObject({ bonusCoins: 0, promotion: null });

    const jwt = await tokenFor(uniqueUser(), { region: "GB" });
    await ds.query(`INSERT INTO wallet.coin_promotions (package_id, bonus_coins, starts_at, ends_at) VALUES ('pkg_GB_700', 50, now() - interval '1 minute', now() + interval '1 hour')`);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_GB_700" });
    expect(order).toMatchObject({ status: "SUCCEEDED", coins: 700, bonusCoins: 50, totalCoins: 750 });
    const w = await stack.gql(`{ me { wallet { coins transactions(first: 5) { edges { node { type amount } } } } } }`, {}, jwt);
    expect(w.data.me.wallet.coins).toBe(750);
    expect(w.data.me.wallet.transactions.edges.map((e: any) => e.node)).toEqual([
      { type: "BONUS", amount: 50 },
      { type: "RECHARGE", amount: 700 },
    ]);
  });

  it("default to the caller's token region, then US; an unsupported region gets US packages", async () => {
    const jp = await tokenFor(uniqueUser(), { region: "JP" });
    expect((await stack.gql(`{ coinPackages { region } }`, {}, jp)).data.coinPackages[0].region).toBe("JP");
    expect((await stack.gql(`{ coinPackages { region } }`)).data.coinPackages[0].region).toBe("US");
    expect((await stack.gql(PACKAGES, { r: "fr" })).data.coinPackages[0].region).toBe("US");
  });

  it("a malformed region is BAD_USER_INPUT, not a 500", async () => {
    const res = await stack.gql(PACKAGES, { r: "United States" });
    expect(res.status).toBe(200);
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("seeding again (and concurrently) adds nothing twice", async () => {
    const ds = stack.subgraphs.wallet.dataSource;
    const count = async () => (await ds.query(`SELECT (SELECT count(*) FROM wallet.coin_packages)::int AS p, (SELECT count(*) FROM wallet.coin_promotions)::int AS pr`))[0];
    const before = await count();
    await Promise.all([seedWallet(ds), seedWallet(ds), seedWallet(ds)]);
    expect(await count()).toEqual(before);
  });
});

describe("money helpers (no floats)", () => {
  it("formats minor units exactly, whatever the size", () => {
    expect(toDecimalString(5, "USD")).toBe("0.05");
    expect(toDecimalString(160, "JPY")).toBe("160");
    expect(toDecimalString(-1234, "EUR")).toBe("-12.34");
    expect(formatMoney(900_719_925_474_099, "USD")).toBe("$9,007,199,254,740.99");
    expect(formatMoney(100, "USD")).toBe("$1");
  });

  it("half-up rounding of a per-coin price equals exact rational rounding for any amount", () => {
    fc.assert(
      fc.property(fc.integer({ min: 30, max: 2_500_000 }), fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 10_000 }), (coins, num, den) => {
        const price = priceForCoins(coins, num, den);
        // exact − price ∈ [−1/2, 1/2): within half a minor unit, and exactly half rounds up
        const twice = 2n * BigInt(coins) * BigInt(num) - 2n * BigInt(price) * BigInt(den);
        return twice >= -BigInt(den) && twice < BigInt(den);
      }),
    );
  });
});
