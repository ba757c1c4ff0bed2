import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { CONFIRM, paymentIdOf, recharge, rechargeInput, sandbox, tokenFor, uniqueUser, walletOf } from "./support.js";

let stack: Stack;
let admin: string;
beforeAll(async () => {
  stack = await startStack("coinpkgs");
  admin = await tokenFor("pkg-admin", { roles: ["viewer", "admin"] });
});
afterAll(async () => {
  await stack?.stop();
});

const PKG = `id region coins bonusCoins totalCoins price { amountMinor currency formatted } retiredAt`;
const CREATE = `mutation($i: CreateCoinPackageInput!) { createCoinPackage(input: $i) { coinPackage { ${PKG} } userErrors { code message field } } }`;
const REPRICE = `mutation($i: RepriceCoinPackageInput!) { repriceCoinPackage(input: $i) { coinPackage { ${PKG} } price { price { amountMinor currency } validFrom validUntil reason note changedBy } userErrors { code message field } } }`;
const RETIRE = `mutation($i: RetireCoinPackageInput!) { retireCoinPackage(input: $i) { coinPackage { ${PKG} } userErrors { code message field } } }`;
const PROMO = `mutation($i: ScheduleCoinPromotionInput!) { scheduleCoinPromotion(input: $i) { promotion { id coins bonusCoins regions packageIds startsAt endsAt endedAt reason createdBy } userErrors { code message field } } }`;
const END = `mutation($i: EndCoinPromotionInput!) { endCoinPromotion(input: $i) { promotion { id endsAt endedAt } userErrors { code message field } } }`;
const LIST = `query($r: String) { coinPackages(region: $r) { ${PKG} } }`;
const CHANGES = `query($p: ID) { coinPackageChanges(packageId: $p, first: 20) { actor action packageId promotionId reason detail at } }`;
const HISTORY = `query($r: String, $s: Boolean) { coinPackages(region: $r) { id priceHistory(includeScheduled: $s) { price { amountMinor } validFrom validUntil reason } } }`;
const PRICE_AT = `query($r: String, $at: DateTimeISO!) { coinPackages(region: $r) { id priceAt(at: $at) { price { amountMinor currency } validFrom validUntil reason } } }`;
const RECHARGE_OFFER = `mutation($input: RechargeInput!) { recharge(input: $input) { order { id status coins bonusCoins price { amountMinor } } userErrors { code message field } currentOffer { ${PKG} } } }`;

const ds = () => stack.subgraphs.wallet.dataSource;
const auditCount = async () => Number((await ds().query(`SELECT count(*) AS n FROM wallet.coin_package_audit`))[0].n);
const listed = async (region: string, id: string) => ((await stack.gql(LIST, { r: region })).data.coinPackages as any[]).find((p) => p.id === id);

describe("createCoinPackage (admin)", () => {
  it("puts a new package on sale in its region's currency, listed publicly, with an audit row saying who and why", async () => {
    const res = await stack.gql(CREATE, { i: { region: "JP", coins: 1050, amountMinor: 2400, currency: "JPY", reason: "mid-size pack for JP" } }, admin);
    expect(res.errors).toBeUndefined();
    expect(res.data.createCoinPackage).toEqual({
      coinPackage: { id: "pkg_JP_1050", region: "JP", coins: 1050, bonusCoins: 0, totalCoins: 1050, price: { amountMinor: 2400, currency: "JPY", formatted: "¥2,400" }, retiredAt: null },
      userErrors: [],
    });
    expect(await listed("JP", "pkg_JP_1050")).toMatchObject({ price: { amountMinor: 2400 } });
    const changes = (await stack.gql(CHANGES, { p: "pkg_JP_1050" }, admin)).data.coinPackageChanges;
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ actor: "pkg-admin", action: "CREATE", reason: "mid-size pack for JP" });
    expect(JSON.parse(changes[0].detail)).toMatchObject({ coins: 1050, amountMinor: 2400, currency: "JPY" });
  });

  it("a bought package of a new size is charged exactly its price", async () => {
    await stack.gql(CREATE, { i: { region: "US", coins: 2100, amountMinor: 2899, currency: "USD" } }, admin);
    const jwt = await tokenFor(uniqueUser());
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_2100" });
    expect(order).toMatchObject({ status: "SUCCEEDED", coins: 2100, price: { amountMinor: 2899, currency: "USD" } });
  });

  it("validates per currency: JPY has no minor unit (¥160 is 160, not 16000), the region's currency only, all problems at once, nothing written", async () => {
    const before = await auditCount();
    const yen = await stack.gql(CREATE, { i: { region: "JP", coins: 70, amountMinor: 16000, currency: "JPY", id: "pkg_JP_bad", reason: "typo" } }, admin);
    expect(yen.data.createCoinPackage.coinPackage).toBeNull();
    expect(yen.data.createCoinPackage.userErrors).toEqual([expect.objectContaining({ code: "INVALID_INPUT", field: ["input", "amountMinor"] })]);
    expect(yen.data.createCoinPackage.userErrors[0].message).toContain("JPY has no minor unit");
    // $99 typed as 99 for 7,000 coins: 100× too cheap.
    const cents = await stack.gql(CREATE, { i: { region: "US", coins: 7001, amountMinor: 99, currency: "USD", reason: "typo" } }, admin);
    expect(cents.data.createCoinPackage.userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "amountMinor"] });
    const many = await stack.gql(CREATE, { i: { region: "JP", coins: 0, amountMinor: 160, currency: "USD", reason: " " } }, admin);
    expect(many.data.createCoinPackage.userErrors.map((e: any) => e.field.join("."))).toEqual(["input.reason", "input.coins", "input.currency"]);
    const region = await stack.gql(CREATE, { i: { region: "FR", coins: 70, amountMinor: 99, currency: "EUR" } }, admin);
    expect(region.data.createCoinPackage.userErrors[0]).toMatchObject({ code: "UNKNOWN_REGION", field: ["input", "region"] });
    const fraction = await stack.gql(CREATE, { i: { region: "JP", coins: 70, amountMinor: 160.5, currency: "JPY" } }, admin);
    expect(fraction.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
    expect(await auditCount()).toBe(before);
    expect(Number((await ds().query(`SELECT count(*) AS n FROM wallet.coin_packages WHERE id IN ('pkg_JP_bad', 'pkg_US_7001', 'pkg_JP_0', 'pkg_FR_70')`))[0].n)).toBe(0);
  });

  it("only admins manage packages: a viewer gets FORBIDDEN, anonymous UNAUTHENTICATED", async () => {
    const viewer = await tokenFor(uniqueUser());
    const input = { region: "US", coins: 123, amountMinor: 175, currency: "USD" };
    expect((await stack.gql(CREATE, { i: input }, viewer)).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect((await stack.gql(CREATE, { i: input })).errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    expect(await listed("US", "pkg_US_123")).toBeUndefined();
  });

  it("the same create repeated (also 6 at once) makes one package; a different package with a taken id is PACKAGE_ID_TAKEN", async () => {
    const input = { region: "GB", coins: 1750, amountMinor: 2399, currency: "GBP", reason: "new size" };
    const results = await Promise.all(Array.from({ length: 6 }, () => stack.gql(CREATE, { i: input }, admin)));
    for (const r of results) expect(r.data.createCoinPackage).toMatchObject({ coinPackage: { id: "pkg_GB_1750" }, userErrors: [] });
    expect(Number((await ds().query(`SELECT count(*) AS n FROM wallet.coin_package_audit WHERE package_id = 'pkg_GB_1750'`))[0].n)).toBe(1);
    const other = await stack.gql(CREATE, { i: { ...input, amountMinor: 2499 } }, admin);
    expect(other.data.createCoinPackage.userErrors[0]).toMatchObject({ code: "PACKAGE_ID_TAKEN", field: ["input", "id"] });
  });
});

describe("repriceCoinPackage (admin): price history like the catalog's", () => {
  it("changes the price at once; the price in force at any earlier instant is still answerable, periods contiguous", async () => {
    const before = new Date().toISOString();
    const res = await stack.gql(REPRICE, { i: { packageId: "pkg_DE_350", amountMinor: 499, currency: "EUR", reason: "EU price harmonisation" } }, admin);
    expect(res.data.repriceCoinPackage.userErrors).toEqual([]);
    expect(res.data.repriceCoinPackage.coinPackage.price).toMatchObject({ amountMinor: 499, currency: "EUR" });
    expect(res.data.repriceCoinPackage.price).toMatchObject({ reason: "REPRICE", note: "EU price harmonisation", changedBy: "pkg-admin", validUntil: null });
    expect(await listed("DE", "pkg_DE_350")).toMatchObject({ price: { amountMinor: 499 } });

    const then = (await stack.gql(PRICE_AT, { r: "DE", at: before })).data.coinPackages.find((p: any) => p.id === "pkg_DE_350");
    expect(then.priceAt).toMatchObject({ price: { amountMinor: 549, currency: "EUR" }, reason: "INITIAL" });
    const history = (await stack.gql(HISTORY, { r: "DE", s: false })).data.coinPackages.find((p: any) => p.id === "pkg_DE_350").priceHistory;
    expect(history.map((h: any) => h.price.amountMinor)).toEqual([549, 499]);
    expect(history[0].validUntil).toBe(history[1].validFrom);
    const [change] = (await stack.gql(CHANGES, { p: "pkg_DE_350" }, admin)).data.coinPackageChanges;
    expect(change).toMatchObject({ action: "REPRICE", actor: "pkg-admin", reason: "EU price harmonisation" });
    expect(JSON.parse(change.detail)).toMatchObject({ fromAmountMinor: 549, amountMinor: 499, currency: "EUR" });
  });

  it("a recharge in flight keeps the price it was quoted: a 3-D Secure order confirmed after a reprice is charged the old price", async () => {
    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const { order } = await recharge(stack, jwt, { packageId: "pkg_US_350", token: "pm_card_3ds" });
    expect(order).toMatchObject({ status: "REQUIRES_ACTION", price: { amountMinor: 499 } });
    await stack.gql(REPRICE, { i: { packageId: "pkg_US_350", amountMinor: 599, currency: "USD", reason: "price rise" } }, admin);
    const confirmed = (await stack.gql(CONFIRM, { id: order.id }, jwt)).data.confirmRecharge.order;
    expect(confirmed).toMatchObject({ status: "SUCCEEDED", coins: 350, price: { amountMinor: 499 } });
    expect(sandbox(stack).payment(await paymentIdOf(stack, order.id))?.amountMinor).toBe(499);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
    // A new purchase pays the new price.
    const { order: next } = await recharge(stack, jwt, { packageId: "pkg_US_350" });
    expect(next.price.amountMinor).toBe(599);
  });

  it("a buyer who was shown another price than the current one is told PRICE_CHANGED with the current offer, and nothing is charged", async () => {
    const jwt = await tokenFor(uniqueUser());
    await stack.gql(REPRICE, { i: { packageId: "pkg_US_3500", amountMinor: 4799, currency: "USD", reason: "sale" } }, admin);
    const calls = sandbox(stack).stats.createCalls;
    const res = await stack.gql(RECHARGE_OFFER, { input: { ...rechargeInput({ packageId: "pkg_US_3500" }), expectedAmountMinor: 4999 } }, jwt);
    expect(res.data.recharge.order).toBeNull();
    expect(res.data.recharge.userErrors[0]).toMatchObject({ code: "PRICE_CHANGED", field: ["input", "expectedAmountMinor"] });
    expect(res.data.recharge.currentOffer).toEqual([expect.objectContaining({ id: "pkg_US_3500", price: expect.objectContaining({ amountMinor: 4799 }) })]);
    expect(sandbox(stack).stats.createCalls).toBe(calls);
    const ok = await stack.gql(RECHARGE_OFFER, { input: { ...rechargeInput({ packageId: "pkg_US_3500" }), expectedAmountMinor: 4799 } }, jwt);
    expect(ok.data.recharge.order).toMatchObject({ status: "SUCCEEDED", price: { amountMinor: 4799 } });
  });

  it("a scheduled price takes effect at its instant (inclusive) and is visible only to admins before", async () => {
    const at = new Date(Date.now() + 3_600_000);
    at.setUTCMilliseconds(0);
    const res = await stack.gql(REPRICE, { i: { packageId: "pkg_GB_700", amountMinor: 1099, currency: "GBP", effectiveAt: at.toISOString(), reason: "new tariff" } }, admin);
    expect(res.data.repriceCoinPackage.price).toMatchObject({ reason: "SCHEDULED", price: { amountMinor: 1099 }, validFrom: at.toISOString() });
    expect(await listed("GB", "pkg_GB_700")).toMatchObject({ price: { amountMinor: 999 } });
    const justBefore = new Date(at.getTime() - 1).toISOString();
    const viaAdmin = async (when: string) => (await stack.gql(PRICE_AT, { r: "GB", at: when }, admin)).data.coinPackages.find((p: any) => p.id === "pkg_GB_700").priceAt.price.amountMinor;
    expect(await viaAdmin(justBefore)).toBe(999);
    expect(await viaAdmin(at.toISOString())).toBe(1099);
    const viewer = await tokenFor(uniqueUser(), { region: "GB" });
    expect((await stack.gql(PRICE_AT, { r: "GB", at: at.toISOString() }, viewer)).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const pub = (await stack.gql(HISTORY, { r: "GB", s: false })).data.coinPackages.find((p: any) => p.id === "pkg_GB_700").priceHistory;
    expect(pub.map((h: any) => h.price.amountMinor)).toEqual([999]);
    expect(pub[0].validUntil).toBeNull();
    const full = (await stack.gql(HISTORY, { r: "GB", s: true }, admin)).data.coinPackages.find((p: any) => p.id === "pkg_GB_700").priceHistory;
    expect(full.map((h: any) => [h.price.amountMinor, h.reason])).toEqual([[999, "INITIAL"], [1099, "SCHEDULED"]]);
    // The same schedule again is a no-op; another price at that instant is refused.
    await stack.gql(REPRICE, { i: { packageId: "pkg_GB_700", amountMinor: 1099, currency: "GBP", effectiveAt: at.toISOString(), reason: "again" } }, admin);
    const clash = await stack.gql(REPRICE, { i: { packageId: "pkg_GB_700", amountMinor: 1199, currency: "GBP", effectiveAt: at.toISOString(), reason: "clash" } }, admin);
    expect(clash.data.repriceCoinPackage.userErrors[0].code).toBe("PRICE_ALREADY_SCHEDULED");
    expect(Number((await ds().query(`SELECT count(*) AS n FROM wallet.coin_package_prices WHERE package_id = 'pkg_GB_700'`))[0].n)).toBe(2);
  });

  it("concurrent reprices are serialized: history stays contiguous and the last committed price is in force", async () => {
    const prices = [1029, 1039, 1049, 1059, 1069];
    await Promise.all(prices.map((p) => stack.gql(REPRICE, { i: { packageId: "pkg_DE_700", amountMinor: p, currency: "EUR", reason: `r${p}` } }, admin)));
    const rows = await ds().query(`SELECT price_minor::int, effective_from FROM wallet.coin_package_prices WHERE package_id = 'pkg_DE_700' ORDER BY effective_from`);
    expect(rows).toHaveLength(6);
    expect(new Set(rows.map((r: any) => new Date(r.effective_from).getTime())).size).toBe(6);
    expect((await listed("DE", "pkg_DE_700")).price.amountMinor).toBe(rows[5].price_minor);
  });

  it("a reprice in the wrong currency or a zero-decimal mistake is INVALID_INPUT and changes nothing", async () => {
    const wrong = await stack.gql(REPRICE, { i: { packageId: "pkg_JP_700", amountMinor: 1600, currency: "USD", reason: "x" } }, admin);
    expect(wrong.data.repriceCoinPackage.userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "currency"] });
    const sen = await stack.gql(REPRICE, { i: { packageId: "pkg_JP_700", amountMinor: 160000, currency: "JPY", reason: "x" } }, admin);
    expect(sen.data.repriceCoinPackage.userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "amountMinor"] });
    const missing = await stack.gql(REPRICE, { i: { packageId: "pkg_XX_1", amountMinor: 1, currency: "USD", reason: "x" } }, admin);
    expect(missing.data.repriceCoinPackage.userErrors[0].code).toBe("NOT_FOUND");
    expect((await listed("JP", "pkg_JP_700")).price.amountMinor).toBe(1600);
  });
});

describe("retireCoinPackage (admin)", () => {
  it("takes the package off sale; buying it answers PACKAGE_RETIRED with the region's current offer and charges nothing", async () => {
    const res = await stack.gql(RETIRE, { i: { packageId: "pkg_IN_350", reason: "replaced by 400" } }, admin);
    expect(res.data.retireCoinPackage.coinPackage.retiredAt).not.toBeNull();
    await stack.gql(RETIRE, { i: { packageId: "pkg_IN_350", reason: "again" } }, admin);
    expect(await listed("IN", "pkg_IN_350")).toBeUndefined();
    const jwt = await tokenFor(uniqueUser(), { region: "IN" });
    const calls = sandbox(stack).stats.createCalls;
    const buy = await stack.gql(RECHARGE_OFFER, { input: rechargeInput({ packageId: "pkg_IN_350" }) }, jwt);
    expect(buy.data.recharge.order).toBeNull();
    expect(buy.data.recharge.userErrors[0]).toMatchObject({ code: "PACKAGE_RETIRED", field: ["input", "packageId"] });
    expect(buy.data.recharge.currentOffer.map((p: any) => p.id)).toEqual(["pkg_IN_70", "pkg_IN_700", "pkg_IN_1400", "pkg_IN_3500", "pkg_IN_7000"]);
    expect(sandbox(stack).stats.createCalls).toBe(calls);
    expect(Number((await ds().query(`SELECT count(*) AS n FROM wallet.coin_package_audit WHERE package_id = 'pkg_IN_350' AND action = 'RETIRE'`))[0].n)).toBe(1);
    // Admins still see it, marked retired; an unknown id stays NOT_FOUND.
    const adminList = (await stack.gql(`{ adminCoinPackages(region: "IN", includeRetired: true) { id retiredAt } }`, {}, admin)).data.adminCoinPackages;
    expect(adminList.find((p: any) => p.id === "pkg_IN_350").retiredAt).not.toBeNull();
    const unknown = await stack.gql(RECHARGE_OFFER, { input: rechargeInput({ packageId: "pkg_IN_999" }) }, jwt);
    expect(unknown.data.recharge.userErrors[0].code).toBe("NOT_FOUND");
  });

  it("a retired package cannot be repriced (INVALID_STATE)", async () => {
    await stack.gql(RETIRE, { i: { packageId: "pkg_GB_70", reason: "too small" } }, admin);
    const res = await stack.gql(REPRICE, { i: { packageId: "pkg_GB_70", amountMinor: 109, currency: "GBP", reason: "x" } }, admin);
    expect(res.data.repriceCoinPackage.userErrors[0].code).toBe("INVALID_STATE");
  });
});

describe("promotions (admin)", () => {
  it("schedules bonus coins on one package size in chosen regions, then ends it: later purchases expecting the bonus get PROMOTION_ENDED with the current offer", async () => {
    const endsAt = new Date(Date.now() + 86_400_000).toISOString();
    const res = await stack.gql(PROMO, { i: { coins: 700, regions: ["US", "DE"], bonusCoins: 77, endsAt, reason: "spring sale" } }, admin);
    expect(res.data.scheduleCoinPromotion.userErrors).toEqual([]);
    const promo = res.data.scheduleCoinPromotion.promotion;
    expect(promo).toMatchObject({ coins: 700, bonusCoins: 77, regions: ["DE", "US"], packageIds: ["pkg_DE_700", "pkg_US_700"], endedAt: null, reason: "spring sale", createdBy: "pkg-admin" });
    expect(await listed("US", "pkg_US_700")).toMatchObject({ bonusCoins: 77, totalCoins: 777 });
    expect(await listed("GB", "pkg_GB_700")).toMatchObject({ bonusCoins: 0 });

    const user = uniqueUser();
    const jwt = await tokenFor(user);
    const during = await stack.gql(RECHARGE_OFFER, { input: { ...rechargeInput({ packageId: "pkg_US_700" }), expectedBonusCoins: 77 } }, jwt);
    expect(during.data.recharge.order).toMatchObject({ status: "SUCCEEDED", coins: 700, bonusCoins: 77 });
    // An order placed under the promotion and completed after it ended keeps its bonus.
    const pending = await recharge(stack, jwt, { packageId: "pkg_US_700", token: "pm_card_3ds" });

    const ended = await stack.gql(END, { i: { id: promo.id, reason: "budget spent" } }, admin);
    expect(ended.data.endCoinPromotion.promotion.endedAt).not.toBeNull();
    await stack.gql(END, { i: { id: promo.id, reason: "again" } }, admin);
    expect(await listed("US", "pkg_US_700")).toMatchObject({ bonusCoins: 0, totalCoins: 700 });

    const confirmed = (await stack.gql(CONFIRM, { id: pending.order.id }, jwt)).data.confirmRecharge.order;
    expect(confirmed).toMatchObject({ status: "SUCCEEDED", bonusCoins: 77 });
    const calls = sandbox(stack).stats.createCalls;
    const after = await stack.gql(RECHARGE_OFFER, { input: { ...rechargeInput({ packageId: "pkg_US_700" }), expectedBonusCoins: 77 } }, jwt);
    expect(after.data.recharge.order).toBeNull();
    expect(after.data.recharge.userErrors[0]).toMatchObject({ code: "PROMOTION_ENDED", field: ["input", "expectedBonusCoins"] });
    expect(after.data.recharge.currentOffer).toEqual([expect.objectContaining({ id: "pkg_US_700", bonusCoins: 0, totalCoins: 700 })]);
    expect(sandbox(stack).stats.createCalls).toBe(calls);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 2 * 777, debt: 0 });

    const trail = (await stack.gql(CHANGES, { p: "pkg_US_700" }, admin)).data.coinPackageChanges.filter((c: any) => c.promotionId === promo.id);
    expect(trail.map((c: any) => [c.action, c.reason])).toEqual([["END_PROMOTION", "budget spent"], ["SCHEDULE_PROMOTION", "spring sale"]]);
  });

  it("a promotion scheduled ahead starts at its time; ending it before it starts cancels it", async () => {
    const startsAt = new Date(Date.now() + 3_600_000).toISOString();
    const endsAt = new Date(Date.now() + 7_200_000).toISOString();
    const res = await stack.gql(PROMO, { i: { coins: 3500, bonusCoins: 350, startsAt, endsAt, reason: "weekend" } }, admin);
    const promo = res.data.scheduleCoinPromotion.promotion;
    expect(promo.regions).toEqual(["DE", "GB", "IN", "JP", "US"]);
    expect(await listed("JP", "pkg_JP_3500")).toMatchObject({ bonusCoins: 0 });
    const list = (await stack.gql(`{ coinPromotionSchedules(region: "JP") { id startsAt } }`, {}, admin)).data.coinPromotionSchedules;
    expect(list.map((p: any) => p.id)).toContain(promo.id);
    await stack.gql(END, { i: { id: promo.id, reason: "cancelled" } }, admin);
    const [row] = await ds().query(`SELECT bool_and(ends_at = starts_at) AS empty FROM wallet.coin_promotions WHERE campaign_id = $1`, [promo.id]);
    expect(row.empty).toBe(true);
  });

  it("refuses a bonus larger than the package, a window that ends before it starts, an unknown region, and a size nobody sells", async () => {
    const endsAt = new Date(Date.now() + 86_400_000).toISOString();
    const bad = await stack.gql(PROMO, { i: { coins: 70, bonusCoins: 71, startsAt: endsAt, endsAt, regions: ["FR"], reason: "x" } }, admin);
    expect(bad.data.scheduleCoinPromotion.userErrors.map((e: any) => [e.code, e.field.join(".")])).toEqual([
      ["INVALID_INPUT", "input.bonusCoins"],
      ["INVALID_INPUT", "input.endsAt"],
      ["UNKNOWN_REGION", "input.regions"],
    ]);
    const none = await stack.gql(PROMO, { i: { coins: 71, bonusCoins: 1, endsAt, reason: "x" } }, admin);
    expect(none.data.scheduleCoinPromotion.userErrors[0].code).toBe("NOT_FOUND");
    const viewer = await tokenFor(uniqueUser());
    expect((await stack.gql(PROMO, { i: { coins: 70, bonusCoins: 1, endsAt, reason: "x" } }, viewer)).errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });
});

describe("audit trail", () => {
  it("is append-only in the database", async () => {
    await expect(ds().query(`UPDATE wallet.coin_package_audit SET reason = 'rewritten'`)).rejects.toThrow(/append-only/);
    await expect(ds().query(`DELETE FROM wallet.coin_package_audit`)).rejects.toThrow(/append-only/);
  });
});

