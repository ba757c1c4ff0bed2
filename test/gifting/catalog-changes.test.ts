import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { balanceOf, catalogGifts, fund, goLive, key, sendGift, trace, viewerToken, type CatalogGift } from "./support.js";
import { eventually } from "../support/eventually.js";

let stack: Stack;
let gifts: Map<string, CatalogGift>;
let admin: string;

beforeAll(async () => {
  stack = await startStack("giftcat");
  gifts = await catalogGifts(stack);
  admin = await stack.token({ sub: "catalog-admin", roles: ["admin"] });
  await goLive(stack, "host-cat");
});
afterAll(async () => {
  await stack?.stop();
});


async function adminUpdate(input: Record<string, unknown>) {
  const res = await stack.gql(`mutation($input: UpdateGiftInput!) { updateGift(input: $input) { gift { id coinCost } userErrors { code message } } }`, { input }, admin);
  expect(res.errors).toBeUndefined();
  expect(res.data.updateGift.userErrors).toEqual([]);
}

describe("sendGift follows the catalog's changes made through its admin mutations", () => {
  it("after an admin changes a price, a send at the old price is PRICE_CHANGED with the new one, and a send at the new price is debited at it", async () => {
    const swan = gifts.get("swan")!; // 699
    // A sender with no coins probes the price without side effects: a stale price would answer INSUFFICIENT_COINS.
    const probe = await viewerToken(stack, "probe");
    await fund(stack, "payer", 5000);
    const payer = await viewerToken(stack, "payer");
    const first = await sendGift(stack, payer, { giftId: swan.id, hostId: "host-cat", expectedUnitCost: 699, idempotencyKey: key() });
    expect(first.payload?.giftEvent.unitCost).toBe(699); // the old price is now cached in the wallet

    await adminUpdate({ id: swan.id, coinCost: 750 });
    const before = await trace(stack);
    const refused = await eventually(async () => {
      const { payload } = await sendGift(stack, probe, { giftId: swan.id, hostId: "host-cat", expectedUnitCost: 699, idempotencyKey: key() });
      expect(payload?.userErrors[0]?.code).toBe("PRICE_CHANGED");
      return payload!.userErrors[0];
    });
    expect(refused.currentUnitCost).toBe(750);
    expect(await trace(stack)).toEqual(before);

    const second = await sendGift(stack, payer, { giftId: swan.id, hostId: "host-cat", expectedUnitCost: 750, quantity: 2, idempotencyKey: key() });
    expect(second.payload?.userErrors).toEqual([]);
    expect(second.payload?.giftEvent).toMatchObject({ unitCost: 750, coins: 1500 });
    expect(await balanceOf(stack, "payer")).toEqual({ coins: 5000 - 699 - 1500, debt: 0 });
  });

  it("without expectedUnitCost a send pays the price in force, and its gift.sent event carries that unit cost", async () => {
    const train = gifts.get("train")!; // 899
    await fund(stack, "trusting", 5000);
    const token = await viewerToken(stack, "trusting");
    await sendGift(stack, token, { giftId: train.id, hostId: "host-cat", idempotencyKey: key() });
    await adminUpdate({ id: train.id, coinCost: 901 });
    const probe = await viewerToken(stack, "probe");
    await eventually(async () => {
      const { payload } = await sendGift(stack, probe, { giftId: train.id, hostId: "host-cat", expectedUnitCost: 899, idempotencyKey: key() });
      expect(payload?.userErrors[0]?.code).toBe("PRICE_CHANGED");
    });
    const { payload } = await sendGift(stack, token, { giftId: train.id, hostId: "host-cat", idempotencyKey: key() });
    expect(payload?.giftEvent.unitCost).toBe(901);
    const [event] = await stack.subgraphs.wallet.dataSource.query(`SELECT payload FROM eventlog.events WHERE event_id = $1`, [payload!.giftEvent.id]);
    expect(event.payload).toMatchObject({ unitCost: 901, coins: 901, quantity: 1 });
  });

  it("after an admin retires a gift, sending it is GIFT_NOT_AVAILABLE and charges nothing", async () => {
    const galaxy = gifts.get("galaxy")!;
    await fund(stack, "late", 5000);
    const token = await viewerToken(stack, "late");
    expect((await sendGift(stack, token, { giftId: galaxy.id, hostId: "host-cat", idempotencyKey: key() })).payload?.userErrors).toEqual([]);
    const res = await stack.gql(`mutation($id: ID!) { retireGift(id: $id) { userErrors { code } } }`, { id: galaxy.id }, admin);
    expect(res.errors).toBeUndefined();
    const before = await trace(stack);
    const e = await eventually(async () => {
      const { payload } = await sendGift(stack, await viewerToken(stack, "probe"), { giftId: galaxy.id, hostId: "host-cat", idempotencyKey: key() });
      expect(payload?.userErrors[0]?.code).toBe("GIFT_NOT_AVAILABLE");
      return payload!.userErrors[0];
    });
    expect(e.message).toMatch(/retired/);
    const { payload } = await sendGift(stack, token, { giftId: galaxy.id, hostId: "host-cat", idempotencyKey: key() });
    expect(payload?.userErrors.map((x) => x.code)).toEqual(["GIFT_NOT_AVAILABLE"]);
    expect(await trace(stack)).toEqual(before);
    expect(await balanceOf(stack, "late")).toEqual({ coins: 4000, debt: 0 });
  });

  it("a gift outside its sending window is GIFT_NOT_AVAILABLE: not yet started, or already ended", async () => {
    const create = async (slug: string, from: Date | null, until: Date | null) => {
      const res = await stack.gql(
        `mutation($input: CreateGiftInput!) { createGift(input: $input) { gift { id } userErrors { code message } } }`,
        { input: { slug, name: slug, coinCost: 10, category: "EVENT", imageUrl: `${slug}.png`, availableFrom: from?.toISOString() ?? null, availableUntil: until?.toISOString() ?? null } },
        admin,
      );
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      expect(res.data.createGift.userErrors).toEqual([]);
      return res.data.createGift.gift.id as string;
    };
    const day = 86_400_000;
    const upcoming = await create("gifting-upcoming", new Date(Date.now() + day), new Date(Date.now() + 2 * day));
    // The catalog refuses to create a gift that has already ended: this one ends a moment from now.
    const ending = await create("gifting-ending", null, new Date(Date.now() + 1000));
    await fund(stack, "window-shopper", 100);
    const token = await viewerToken(stack, "window-shopper");
    const before = await trace(stack);
    const notYet = await sendGift(stack, token, { giftId: upcoming, hostId: "host-cat", idempotencyKey: key() });
    expect(notYet.payload?.userErrors.map((e) => [e.code, e.message])).toEqual([["GIFT_NOT_AVAILABLE", "this gift is not available yet"]]);
    expect(await trace(stack)).toEqual(before);
    // A sender without coins probes without side effects until the window has closed.
    const probe = await viewerToken(stack, "probe");
    await eventually(async () => {
      const { payload } = await sendGift(stack, probe, { giftId: ending, hostId: "host-cat", idempotencyKey: key() });
      expect(payload?.userErrors.map((e) => [e.code, e.message])).toEqual([["GIFT_NOT_AVAILABLE", "this gift is no longer available"]]);
    });
    const over = await sendGift(stack, token, { giftId: ending, hostId: "host-cat", idempotencyKey: key() });
    expect(over.payload?.userErrors.map((e) => e.code)).toEqual(["GIFT_NOT_AVAILABLE"]);
    expect(await trace(stack)).toEqual(before);
    expect(await balanceOf(stack, "window-shopper")).toEqual({ coins: 100, debt: 0 });
  });

  it("answers SERVICE_UNAVAILABLE and charges nothing when the catalog cannot be asked (the client retries with the same key)", async () => {
    const doughnut = gifts.get("doughnut")!;
    await fund(stack, "unlucky", 100);
    const token = await viewerToken(stack, "unlucky");
    await stack.subgraphs.catalog.stop();
    const before = await trace(stack);
    const { res } = await sendGift(stack, token, { giftId: doughnut.id, hostId: "host-cat", idempotencyKey: key() });
    expect(res.status).toBe(200);
    expect(res.errors?.[0].extensions?.code).toBe("SERVICE_UNAVAILABLE");
    expect(res.errors?.[0].message).toMatch(/retry/);
    expect(await trace(stack)).toEqual(before);
    expect(await balanceOf(stack, "unlucky")).toEqual({ coins: 100, debt: 0 });
  });
});
