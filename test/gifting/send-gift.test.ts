import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MONEY_MUTATION_LIMITS, MoneyRateLimiter } from "../../platform/money-rate-limit.js";
import { GiftingService, parseSendGiftInput } from "../../subgraphs/wallet/domain/gifting.js";
import { post, startStack, type Stack } from "../support/stack.js";
import { balanceOf, catalogGifts, endLive, fund, goLive, key, refund, sendGift, trace, viewerToken, type CatalogGift } from "./support.js";

let stack: Stack;
let gifts: Map<string, CatalogGift>;
let rose: CatalogGift; // 1 coin, streakable
let corgi: CatalogGift; // 299 coins, not streakable
let sessionId: string;

beforeAll(async () => {
  stack = await startStack("sendgift");
  gifts = await catalogGifts(stack);
  rose = gifts.get("rose")!;
  corgi = gifts.get("corgi")!;
  sessionId = await goLive(stack, "host-live");
});
afterAll(async () => {
  await stack?.stop();
});

/** Runs a failing send and asserts it changed nothing anywhere. */
async function expectRefused(token: string | undefined, input: Parameters<typeof sendGift>[2], code: string) {
  const before = await trace(stack);
  const { res, payload } = await sendGift(stack, token, input);
  expect(res.status).toBe(200);
  expect(res.errors).toBeUndefined();
  expect(payload?.giftEvent).toBeNull();
  expect(payload?.userErrors.map((e) => e.code)).toEqual([code]);
  expect(await trace(stack)).toEqual(before);
  return payload!.userErrors[0];
}

describe("sendGift: a successful send", () => {
  it("debits unitCost × quantity and returns the gift event with the catalog's gift and the sender's balance after", async () => {
    await fund(stack, "alice", 1000);
    const token = await viewerToken(stack, "alice");
    const { res, payload } = await sendGift(stack, token, { giftId: corgi.id, hostId: "host-live", liveSessionId: sessionId, quantity: 2, expectedUnitCost: 299, idempotencyKey: key() });
    expect(res.errors).toBeUndefined();
    expect(payload?.userErrors).toEqual([]);
    expect(payload?.giftEvent).toMatchObject({
      sender: { id: "alice" },
      senderName: "Viewer alice",
      gift: { id: corgi.id, name: "Corgi" },
      host: { id: "host-live" },
      quantity: 2,
      unitCost: 299,
      coins: 598,
      comboId: null,
      senderBalanceAfter: 402,
    });
    expect(new Date(payload!.giftEvent.sentAt).getTime()).not.toBeNaN();
    expect(await balanceOf(stack, "alice")).toEqual({ coins: 402, debt: 0 });
  });

  it("writes one GIFT_SENT ledger entry, one gift event row and one gift.sent event (keyed by host) for it, all with the same id", async () => {
    const order = await fund(stack, "bob", 50);
    const token = await viewerToken(stack, "bob");
    const { payload } = await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", quantity: 7, idempotencyKey: key() });
    const id = payload!.giftEvent.id as string;
    const ds = stack.subgraphs.wallet.dataSource;
    const ledger = await ds.query(`SELECT type, amount::int, balance_after::int, reference FROM wallet.ledger_entries WHERE user_id = 'bob' ORDER BY id`);
    expect(ledger).toEqual([
      { type: "RECHARGE", amount: 50, balance_after: 50, reference: order.id },
      { type: "GIFT_SENT", amount: -7, balance_after: 43, reference: id },
    ]);
    const events = await ds.query(`SELECT event_id, key, payload FROM eventlog.events WHERE type = 'gift.sent' AND payload->>'senderId' = 'bob'`);
    expect(events).toHaveLength(1);
    expect(events[0].event_id).toBe(id);
    expect(events[0].key).toBe("host-live");
    expect(events[0].payload).toEqual({
      giftEventId: id,
      senderId: "bob",
      senderName: "Viewer bob",
      hostId: "host-live",
      liveSessionId: null,
      giftId: rose.id,
      unitCost: 1,
      quantity: 7,
      coins: 7,
      comboId: null,
      sentAt: payload!.giftEvent.sentAt,
    });
    const [row] = await ds.query(`SELECT sender_id, host_id, coins::int, sender_balance_after::int FROM wallet.gift_events WHERE id = $1`, [id]);
    expect(row).toEqual({ sender_id: "bob", host_id: "host-live", coins: 7, sender_balance_after: 43 });
  });

  it("keeps gift events append-only in the database (gifts are not refundable)", async () => {
    const ds = stack.subgraphs.wallet.dataSource;
    await expect(ds.query(`UPDATE wallet.gift_events SET coins = 0`)).rejects.toThrow(/append-only/);
    await expect(ds.query(`DELETE FROM wallet.gift_events`)).rejects.toThrow(/append-only/);
  });

  it("sends to a host who is not live when no live session is given (a gift to a video still counts)", async () => {
    const sid = await goLive(stack, "host-offline");
    await endLive(stack, "host-offline", sid);
    await fund(stack, "carol", 30);
    const { payload } = await sendGift(stack, await viewerToken(stack, "carol"), { giftId: rose.id, hostId: "host-offline", idempotencyKey: key() });
    expect(payload?.userErrors).toEqual([]);
    expect(payload?.giftEvent).toMatchObject({ quantity: 1, coins: 1, host: { id: "host-offline" } });
  });
});

describe("sendGift: who may send, to whom", () => {
  it("answers UNAUTHENTICATED without a token, and changes nothing", async () => {
    const before = await trace(stack);
    const { res, payload } = await sendGift(stack, undefined, { giftId: rose.id, hostId: "host-live", idempotencyKey: key() });
    expect(res.status).toBe(200);
    expect(payload ?? null).toBeNull();
    expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    expect(await trace(stack)).toEqual(before);
  });

  it("refuses a sender who is not a verified adult: NOT_ADULT (checked before anything else is asked)", async () => {
    // Same subject as a funded adult: only the token's adult claim differs.
    await fund(stack, "grown-up", 100);
    await expectRefused(await viewerToken(stack, "grown-up", { adult: false }), { giftId: rose.id, hostId: "host-live", idempotencyKey: key() }, "NOT_ADULT");
    expect(await balanceOf(stack, "grown-up")).toEqual({ coins: 100, debt: 0 });
  });

  it("refuses a sender in debt (a recharge refunded after its coins were spent): IN_DEBT", async () => {
    const order = await fund(stack, "debtor", 100);
    const token = await viewerToken(stack, "debtor");
    expect((await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", quantity: 60, comboId: "debtor-c", idempotencyKey: key() })).payload?.userErrors).toEqual([]);
    await refund(stack, order.id);
    expect(await balanceOf(stack, "debtor")).toEqual({ coins: 0, debt: 60 });
    await fund(stack, "debtor", 40); // repays part of the debt; sending stays blocked until it is cleared
    const debt = await balanceOf(stack, "debtor");
    expect(debt.debt).toBeGreaterThan(0);
    await expectRefused(token, { giftId: rose.id, hostId: "host-live", idempotencyKey: key() }, "IN_DEBT");
    expect(await balanceOf(stack, "debtor")).toEqual(debt);
  });

  it("refuses a host id that is not a creator: HOST_NOT_FOUND", async () => {
    await fund(stack, "dave", 100);
    const e = await expectRefused(await viewerToken(stack, "dave"), { giftId: rose.id, hostId: "nobody-special", idempotencyKey: key() }, "HOST_NOT_FOUND");
    expect(e.field).toEqual(["input", "hostId"]);
  });

  it("refuses a creator who may not receive gifts (not an adult): HOST_NOT_FOUND", async () => {
    await goLive(stack, "host-minor", { adult: false });
    await expectRefused(await viewerToken(stack, "dave"), { giftId: rose.id, hostId: "host-minor", idempotencyKey: key() }, "HOST_NOT_FOUND");
  });

  it("refuses a gift to yourself: CANNOT_GIFT_SELF", async () => {
    await fund(stack, "host-live", 100);
    const token = await stack.token({ sub: "host-live", name: "Host host-live", roles: ["viewer", "host"] });
    await expectRefused(token, { giftId: rose.id, hostId: "host-live", idempotencyKey: key() }, "CANNOT_GIFT_SELF");
  });

  it("refuses a live session that has ended, belongs to another host, or does not exist: SESSION_NOT_LIVE", async () => {
    const ended = await goLive(stack, "host-ended");
    await endLive(stack, "host-ended", ended);
    await fund(stack, "erin", 100);
    const token = await viewerToken(stack, "erin");
    await expectRefused(token, { giftId: rose.id, hostId: "host-ended", liveSessionId: ended, idempotencyKey: key() }, "SESSION_NOT_LIVE");
    const other = await goLive(stack, "host-other");
    const e = await expectRefused(token, { giftId: rose.id, hostId: "host-live", liveSessionId: other, idempotencyKey: key() }, "SESSION_NOT_LIVE");
    expect(e.field).toEqual(["input", "liveSessionId"]);
    await expectRefused(token, { giftId: rose.id, hostId: "host-live", liveSessionId: "00000000-0000-4000-8000-000000000000", idempotencyKey: key() }, "SESSION_NOT_LIVE");
    expect(await balanceOf(stack, "erin")).toEqual({ coins: 100, debt: 0 });
  });
});

describe("sendGift: the gift, its price and the quantity", () => {
  it("refuses a gift not sold in the sender's region: GIFT_NOT_AVAILABLE", async () => {
    const luckyCat = gifts.get("lucky-cat")!; // JP/TW/HK/SG only
    await fund(stack, "frank", 1000);
    const e = await expectRefused(await viewerToken(stack, "frank", { region: "US" }), { giftId: luckyCat.id, hostId: "host-live", idempotencyKey: key() }, "GIFT_NOT_AVAILABLE");
    expect(e.message).toMatch(/region/);
    // ...and sends it for a sender in one of its regions.
    await fund(stack, "kenji", 1000);
    const { payload } = await sendGift(stack, await viewerToken(stack, "kenji", { region: "JP" }), { giftId: luckyCat.id, hostId: "host-live", idempotencyKey: key() });
    expect(payload?.userErrors).toEqual([]);
    expect(payload?.giftEvent.coins).toBe(luckyCat.coinCost);
  });

  it("refuses a gift id the catalog does not know: GIFT_NOT_AVAILABLE", async () => {
    await expectRefused(await viewerToken(stack, "frank"), { giftId: "00000000-0000-4000-8000-000000000000", hostId: "host-live", idempotencyKey: key() }, "GIFT_NOT_AVAILABLE");
  });

  it("refuses a stale price with PRICE_CHANGED and the current unit cost", async () => {
    await fund(stack, "gina", 1000);
    const e = await expectRefused(await viewerToken(stack, "gina"), { giftId: corgi.id, hostId: "host-live", expectedUnitCost: 250, idempotencyKey: key() }, "PRICE_CHANGED");
    expect(e.currentUnitCost).toBe(299);
    expect(await balanceOf(stack, "gina")).toEqual({ coins: 1000, debt: 0 });
  });

  it("refuses more than the balance with INSUFFICIENT_COINS, the balance and the shortfall", async () => {
    await fund(stack, "hank", 500);
    const e = await expectRefused(await viewerToken(stack, "hank"), { giftId: corgi.id, hostId: "host-live", quantity: 2, idempotencyKey: key() }, "INSUFFICIENT_COINS");
    expect(e).toMatchObject({ balance: 500, shortfall: 98 });
  });

  it("refuses a sender who has never had coins with INSUFFICIENT_COINS (balance 0)", async () => {
    const e = await expectRefused(await viewerToken(stack, "never-recharged"), { giftId: rose.id, hostId: "host-live", idempotencyKey: key() }, "INSUFFICIENT_COINS");
    expect(e).toMatchObject({ balance: 0, shortfall: 1 });
  });

  it("refuses a quantity outside 1..9,999 or an expectedUnitCost below 1 with INVALID_INPUT on that field", async () => {
    const token = await viewerToken(stack, "frank");
    for (const [input, field] of [
      [{ quantity: 0 }, "quantity"],
      [{ quantity: -3 }, "quantity"],
      [{ quantity: 10_000, comboId: "c-big" }, "quantity"],
      [{ expectedUnitCost: 0 }, "expectedUnitCost"],
    ] as const) {
      const e = await expectRefused(token, { giftId: rose.id, hostId: "host-live", ...input, idempotencyKey: key() }, "INVALID_INPUT");
      expect(e.field).toEqual(["input", field]);
    }
  });

  it("answers BAD_USER_INPUT for a malformed gift id, an empty host id or a missing idempotency key", async () => {
    const token = await viewerToken(stack, "frank");
    const before = await trace(stack);
    for (const input of [
      { giftId: "rose", hostId: "host-live", idempotencyKey: key() },
      { giftId: rose.id, hostId: "", idempotencyKey: key() },
      { giftId: rose.id, hostId: "host-live", liveSessionId: "x".repeat(129), idempotencyKey: key() },
      { giftId: rose.id, hostId: "host-live", idempotencyKey: "" },
      { giftId: rose.id, hostId: "host-live", idempotencyKey: "has spaces" },
    ]) {
      const { res } = await sendGift(stack, token, input);
      expect(res.status, JSON.stringify(input)).toBe(200);
      expect(res.errors?.[0].extensions?.code, JSON.stringify(input)).toBe("BAD_USER_INPUT");
    }
    expect(await trace(stack)).toEqual(before);
  });

  it("allows 1..99 per send; more than 99 is INVALID_INPUT unless a streakable gift is sent in a combo", async () => {
    await fund(stack, "ivy", 100_000);
    const token = await viewerToken(stack, "ivy");
    const e = await expectRefused(token, { giftId: corgi.id, hostId: "host-live", quantity: 100, idempotencyKey: key() }, "INVALID_INPUT");
    expect(e.field).toEqual(["input", "quantity"]);
    await expectRefused(token, { giftId: rose.id, hostId: "host-live", quantity: 100, idempotencyKey: key() }, "INVALID_INPUT");
    const ok = await sendGift(stack, token, { giftId: corgi.id, hostId: "host-live", quantity: 99, idempotencyKey: key() });
    expect(ok.payload?.giftEvent.coins).toBe(99 * 299);
    const combo = await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", quantity: 5000, comboId: "ivy-combo-1", idempotencyKey: key() });
    expect(combo.payload?.userErrors).toEqual([]);
    expect(combo.payload?.giftEvent).toMatchObject({ quantity: 5000, coins: 5000, comboId: "ivy-combo-1" });
  });

  it("refuses a combo of a gift that is not streakable: INVALID_INPUT on comboId", async () => {
    const e = await expectRefused(await viewerToken(stack, "ivy"), { giftId: corgi.id, hostId: "host-live", comboId: "ivy-corgi-combo", idempotencyKey: key() }, "INVALID_INPUT");
    expect(e.field).toEqual(["input", "comboId"]);
  });

  it("caps one combo at 9,999 gifts in total (LIMIT_EXCEEDED) and keeps it to one gift and one host (INVALID_INPUT)", async () => {
    await fund(stack, "jack", 20_000);
    const token = await viewerToken(stack, "jack");
    const first = await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", quantity: 9000, comboId: "jack-1", idempotencyKey: key() });
    expect(first.payload?.userErrors).toEqual([]);
    const e = await expectRefused(token, { giftId: rose.id, hostId: "host-live", quantity: 1000, comboId: "jack-1", idempotencyKey: key() }, "LIMIT_EXCEEDED");
    expect(e.message).toMatch(/999 left/);
    const last = await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", quantity: 999, comboId: "jack-1", idempotencyKey: key() });
    expect(last.payload?.userErrors).toEqual([]);
    await expectRefused(token, { giftId: rose.id, hostId: "host-live", quantity: 1, comboId: "jack-1", idempotencyKey: key() }, "LIMIT_EXCEEDED");
    const other = await goLive(stack, "host-combo-2");
    await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", comboId: "jack-2", idempotencyKey: key() });
    await expectRefused(token, { giftId: gifts.get("finger-heart")!.id, hostId: "host-live", comboId: "jack-2", idempotencyKey: key() }, "INVALID_INPUT");
    const mixed = await expectRefused(token, { giftId: rose.id, hostId: "host-combo-2", liveSessionId: other, comboId: "jack-2", idempotencyKey: key() }, "INVALID_INPUT");
    expect(mixed.field).toEqual(["input", "comboId"]);
    // Another sender's combo with the same client id is a different combo.
    await fund(stack, "kim", 30);
    const kim = await sendGift(stack, await viewerToken(stack, "kim"), { giftId: rose.id, hostId: "host-live", comboId: "jack-1", idempotencyKey: key() });
    expect(kim.payload?.userErrors).toEqual([]);
  });
});

describe("sendGift: idempotency", () => {
  it("returns the original gift event for a retry with the same key and input, debiting once", async () => {
    await fund(stack, "liam", 1000);
    const token = await viewerToken(stack, "liam");
    const input = { giftId: corgi.id, hostId: "host-live", idempotencyKey: key() };
    const a = await sendGift(stack, token, input);
    const b = await sendGift(stack, token, { ...input, quantity: 1 }); // the default, spelled out: the same request
    expect(b.payload?.giftEvent).toEqual(a.payload?.giftEvent);
    expect(await balanceOf(stack, "liam")).toEqual({ coins: 701, debt: 0 });
  });

  it("refuses the same key with a different input: IDEMPOTENCY_KEY_REUSED", async () => {
    const token = await viewerToken(stack, "liam");
    const k = key();
    await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", idempotencyKey: k });
    const e = await expectRefused(token, { giftId: rose.id, hostId: "host-live", quantity: 2, idempotencyKey: k }, "IDEMPOTENCY_KEY_REUSED");
    expect(e.field).toEqual(["input", "idempotencyKey"]);
  });

  it("keys are per user: another user's identical key is a separate send", async () => {
    await fund(stack, "mia", 30);
    const k = key();
    const a = await sendGift(stack, await viewerToken(stack, "liam"), { giftId: rose.id, hostId: "host-live", idempotencyKey: k });
    const b = await sendGift(stack, await viewerToken(stack, "mia"), { giftId: rose.id, hostId: "host-live", idempotencyKey: k });
    expect(b.payload?.giftEvent.id).not.toBe(a.payload?.giftEvent.id);
    expect(b.payload?.giftEvent.sender.id).toBe("mia");
  });

  it("does not burn the key on a failure: after a recharge the same request succeeds", async () => {
    const token = await viewerToken(stack, "noah");
    const input = { giftId: corgi.id, hostId: "host-live", idempotencyKey: key() };
    await expectRefused(token, input, "INSUFFICIENT_COINS");
    await fund(stack, "noah", 299);
    const { payload } = await sendGift(stack, token, input);
    expect(payload?.userErrors).toEqual([]);
    expect(payload?.giftEvent.senderBalanceAfter).toBe(0);
  });

  it("replays a success even after the live session has ended (the client sees the original outcome, not a new failure)", async () => {
    const sid = await goLive(stack, "host-replay");
    await fund(stack, "olga", 100);
    const token = await viewerToken(stack, "olga");
    const input = { giftId: rose.id, hostId: "host-replay", liveSessionId: sid, expectedUnitCost: 1, idempotencyKey: key() };
    const a = await sendGift(stack, token, input);
    expect(a.payload?.userErrors).toEqual([]);
    await endLive(stack, "host-replay", sid);
    const b = await sendGift(stack, token, input);
    expect(b.payload).toEqual(a.payload);
    expect(await balanceOf(stack, "olga")).toEqual({ coins: 99, debt: 0 });
    // A new send into the ended session is refused.
    await expectRefused(token, { ...input, idempotencyKey: key() }, "SESSION_NOT_LIVE");
  });
});

describe("sendGift's durable per-user limit (MoneyRateLimiter)", () => {
  it("a send past the limit is RATE_LIMITED with when to retry and writes nothing, and a replay of an earlier success is still answered", async () => {
    await fund(stack, "limited", 100);
    const { giftingPeers } = stack.subgraphs.wallet.services;
    const sender = { id: "limited", name: "Viewer limited", roles: ["viewer" as const], region: "US", adult: true, exp: undefined };
    // A burst of 1, refilled once an hour: the second new send in a row is refused.
    const limited = new GiftingService(stack.subgraphs.wallet.dataSource, {
      pricing: giftingPeers.catalog,
      hosts: giftingPeers.earnings,
      limiter: new MoneyRateLimiter("wallet", { ...MONEY_MUTATION_LIMITS, sendGift: { capacity: 1, refillPerSecond: 1 / 3600 } }),
    });
    const done = await limited.send(sender, parseSendGiftInput({ giftId: rose.id, hostId: "host-live", idempotencyKey: "limited-1" }));
    const before = await trace(stack);
    await expect(limited.send(sender, parseSendGiftInput({ giftId: rose.id, hostId: "host-live", idempotencyKey: "limited-2" }))).rejects.toMatchObject({
      extensions: { code: "RATE_LIMITED", retryAfterSeconds: expect.any(Number) },
    });
    expect(await trace(stack)).toEqual(before);
    const [{ n }] = await stack.subgraphs.wallet.dataSource.query(`SELECT count(*)::int AS n FROM wallet.idempotency_keys WHERE user_id = 'limited' AND key = 'limited-2'`);
    expect(n).toBe(0);
    const replay = await limited.send(sender, parseSendGiftInput({ giftId: rose.id, hostId: "host-live", idempotencyKey: "limited-1" }));
    expect(replay).toMatchObject({ giftEvent: done.giftEvent, replayed: true });
  });
});

describe("GiftEvent as a federated entity (wallet's fields)", () => {
  const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { ... on GiftEvent { id senderName quantity coins senderBalanceAfter sender { id } } } }`;

  it("resolves many references with one SQL query and shows senderBalanceAfter only to the sender and admins", async () => {
    await fund(stack, "pia", 100);
    const token = await viewerToken(stack, "pia");
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", idempotencyKey: key() })).payload!.giftEvent.id);
    const reps = ids.map((id) => ({ __typename: "GiftEvent", id }));
    const wallet = stack.subgraphs.wallet;

    wallet.queries.reset();
    const own = await post(wallet.url, ENTITIES, { r: reps }, { token, service: "wallet" });
    expect(own.errors).toBeUndefined();
    expect(wallet.queries.queries.filter((q) => q.includes("gift_events"))).toHaveLength(1);
    expect(own.data._entities.map((e: any) => e.senderBalanceAfter)).toEqual([99, 98, 97, 96, 95]);

    const stranger = await post(wallet.url, ENTITIES, { r: reps }, { token: await viewerToken(stack, "stranger"), service: "wallet" });
    expect(stranger.errors).toBeUndefined();
    expect(stranger.data._entities.map((e: any) => e.senderBalanceAfter)).toEqual([null, null, null, null, null]);
    expect(stranger.data._entities[0]).toMatchObject({ senderName: "Viewer pia", quantity: 1, coins: 1, sender: { id: "pia" } });

    const admin = await post(wallet.url, ENTITIES, { r: reps.slice(0, 1) }, { token: await viewerToken(stack, "ops", { roles: ["admin"] }), service: "wallet" });
    expect(admin.data._entities[0].senderBalanceAfter).toBe(99);
  });

  it("answers null for an unknown or malformed gift event id", async () => {
    const res = await post(stack.subgraphs.wallet.url, ENTITIES, { r: [{ __typename: "GiftEvent", id: "00000000-0000-4000-8000-000000000000" }, { __typename: "GiftEvent", id: "nope" }] }, { service: "wallet" });
    expect(res.errors).toBeUndefined();
    expect(res.data._entities).toEqual([null, null]);
  });
});

describe("the wallet history shows what the coins were spent on", () => {
  it("links each GIFT_SENT entry to its gift event (gift name from the catalog, host), one gift-event query per page, null for a recharge", async () => {
    await fund(stack, "historian", 1000);
    const token = await viewerToken(stack, "historian");
    await sendGift(stack, token, { giftId: rose.id, hostId: "host-live", quantity: 3, idempotencyKey: key() });
    await sendGift(stack, token, { giftId: corgi.id, hostId: "host-offline", idempotencyKey: key() });
    const wallet = stack.subgraphs.wallet;
    wallet.queries.reset();
    const res = await stack.gql(
      `{ me { wallet { transactions(first: 10) { edges { node { type amount giftEvent { quantity coins gift { name } host { id } } } } } } } }`,
      {},
      token,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.me.wallet.transactions.edges.map((e: any) => e.node)).toEqual([
      { type: "GIFT_SENT", amount: -299, giftEvent: { quantity: 1, coins: 299, gift: { name: "Corgi" }, host: { id: "host-offline" } } },
      { type: "GIFT_SENT", amount: -3, giftEvent: { quantity: 3, coins: 3, gift: { name: "Rose" }, host: { id: "host-live" } } },
      { type: "RECHARGE", amount: 1000, giftEvent: null },
    ]);
    expect(wallet.queries.queries.filter((q) => q.includes("gift_events"))).toHaveLength(1);
  });
});

describe("sendGift leaves an exact trail", () => {
  it("has exactly one gift.sent event and one GIFT_SENT ledger entry per gift event, and none for the failures above", async () => {
    const t = await trace(stack);
    expect(t.giftSentEvents).toBe(t.giftEvents);
    expect(t.giftLedgerEntries).toBe(t.giftEvents);
    expect(-t.giftLedgerAmount).toBe(t.coinsInGiftEvents);
    const orphans = await stack.subgraphs.wallet.dataSource.query(
      `SELECT g.id FROM wallet.gift_events g
         LEFT JOIN eventlog.events e ON e.event_id = g.id
         LEFT JOIN wallet.ledger_entries l ON l.id = g.ledger_entry_id AND l.reference = g.id::text AND l.amount = -g.coins
        WHERE e.id IS NULL OR l.id IS NULL`,
    );
    expect(orphans).toEqual([]);
  });
});
