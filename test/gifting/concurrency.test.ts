import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { balanceOf, catalogGifts, diamondsAtDefaultShare, diamondsOf, eventually, fund, goLive, key, sendGift, trace, viewerToken, type CatalogGift } from "./support.js";

let stack: Stack;
let gifts: Map<string, CatalogGift>;
let corgi: CatalogGift; // 299 coins
let rose: CatalogGift; // 1 coin, streakable

beforeAll(async () => {
  stack = await startStack("giftrace");
  gifts = await catalogGifts(stack);
  corgi = gifts.get("corgi")!;
  rose = gifts.get("rose")!;
  for (const h of ["host-c", "host-race", "host-retry"]) await goLive(stack, h);
});
afterAll(async () => {
  await stack?.stop();
});

const codes = (results: Awaited<ReturnType<typeof sendGift>>[]) => {
  const tally: Record<string, number> = {};
  for (const { res, payload } of results) {
    const code = res.errors?.[0]?.extensions?.code ?? (payload?.userErrors[0]?.code as string | undefined) ?? "OK";
    tally[code] = (tally[code] ?? 0) + 1;
  }
  return tally;
};

describe("sendGift under concurrency (through the gateway, real PostgreSQL)", () => {
  it("a sender with coins for exactly 20 gifts sends 50 at once: exactly 20 succeed, 30 are INSUFFICIENT_COINS, the balance ends at 0, the host is credited for 20", async () => {
    await fund(stack, "racer", 20 * corgi.coinCost);
    const token = await viewerToken(stack, "racer");
    const before = await trace(stack);
    const results = await Promise.all(Array.from({ length: 50 }, () => sendGift(stack, token, { giftId: corgi.id, hostId: "host-race", idempotencyKey: key("race") })));
    expect(codes(results)).toEqual({ OK: 20, INSUFFICIENT_COINS: 30 });
    expect(await balanceOf(stack, "racer")).toEqual({ coins: 0, debt: 0 });
    const after = await trace(stack);
    expect(after.giftEvents - before.giftEvents).toBe(20);
    expect(after.giftSentEvents - before.giftSentEvents).toBe(20);
    expect(after.giftLedgerEntries - before.giftLedgerEntries).toBe(20);
    // Each success saw a distinct balance after its debit: 19×299, 18×299, ..., 0.
    const afterBalances = results.filter((r) => r.payload?.giftEvent).map((r) => r.payload!.giftEvent.senderBalanceAfter as number);
    expect(afterBalances.sort((a, b) => b - a)).toEqual(Array.from({ length: 20 }, (_, i) => (19 - i) * corgi.coinCost));
    for (const r of results.filter((x) => !x.payload?.giftEvent)) expect(r.payload!.userErrors[0]).toMatchObject({ balance: expect.any(Number), shortfall: expect.any(Number) });
    // earnings consumes gift.sent: diamonds for exactly the 20 gifts that were paid for.
    await eventually(async () => expect(await diamondsOf(stack, "host-race")).toBe(diamondsAtDefaultShare(20 * corgi.coinCost)));
  });

  it("the same sendGift retried 10 times at once debits once, credits the host once and returns one gift event to all", async () => {
    await fund(stack, "retrier", 1000);
    const token = await viewerToken(stack, "retrier");
    const input = { giftId: corgi.id, hostId: "host-retry", idempotencyKey: key("retry") };
    const before = await trace(stack);
    const results = await Promise.all(Array.from({ length: 10 }, () => sendGift(stack, token, input)));
    expect(codes(results)).toEqual({ OK: 10 });
    expect(new Set(results.map((r) => r.payload!.giftEvent.id)).size).toBe(1);
    for (const r of results) expect(r.payload!.giftEvent).toEqual(results[0].payload!.giftEvent);
    // ...and 10 more times one after another.
    for (let i = 0; i < 10; i++) expect((await sendGift(stack, token, input)).payload!.giftEvent).toEqual(results[0].payload!.giftEvent);
    expect(await balanceOf(stack, "retrier")).toEqual({ coins: 1000 - 299, debt: 0 });
    const after = await trace(stack);
    expect(after.giftEvents - before.giftEvents).toBe(1);
    expect(after.giftSentEvents - before.giftSentEvents).toBe(1);
    expect(after.giftLedgerEntries - before.giftLedgerEntries).toBe(1);
    await eventually(async () => expect(await diamondsOf(stack, "host-retry")).toBe(diamondsAtDefaultShare(299)));
  });

  it("concurrent retries racing a different input under the same key: one send, the rest replay or are IDEMPOTENCY_KEY_REUSED", async () => {
    await fund(stack, "mixer", 1000);
    const token = await viewerToken(stack, "mixer");
    const k = key("mix");
    const before = await trace(stack);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) => sendGift(stack, token, { giftId: rose.id, hostId: "host-c", quantity: i % 2 === 0 ? 1 : 2, idempotencyKey: k })),
    );
    const tally = codes(results);
    expect((tally.OK ?? 0) + (tally.IDEMPOTENCY_KEY_REUSED ?? 0)).toBe(12);
    expect(tally.OK === 6 && tally.IDEMPOTENCY_KEY_REUSED === 6).toBe(true);
    expect(new Set(results.filter((r) => r.payload?.giftEvent).map((r) => r.payload!.giftEvent.id)).size).toBe(1);
    expect((await trace(stack)).giftEvents - before.giftEvents).toBe(1);
  });

  it("a combo filled from many concurrent sends never exceeds 9,999 gifts", async () => {
    await fund(stack, "streaker", 20_000);
    const token = await viewerToken(stack, "streaker");
    const results = await Promise.all(
      Array.from({ length: 20 }, () => sendGift(stack, token, { giftId: rose.id, hostId: "host-c", quantity: 600, comboId: "streak-1", idempotencyKey: key("combo") })),
    );
    expect(codes(results)).toEqual({ OK: 16, LIMIT_EXCEEDED: 4 });
    const [row] = await stack.subgraphs.wallet.dataSource.query(`SELECT total_quantity, sends FROM wallet.gift_combos WHERE sender_id = 'streaker' AND combo_id = 'streak-1'`);
    expect(row).toEqual({ total_quantity: 9600, sends: 16 });
    expect(await balanceOf(stack, "streaker")).toEqual({ coins: 20_000 - 9600, debt: 0 });
  });

  it("concurrent senders to one host do not block each other's correctness: every debit matches its gift event", async () => {
    const senders = Array.from({ length: 8 }, (_, i) => `crowd-${i}`);
    for (const s of senders) await fund(stack, s, 30);
    const tokens = await Promise.all(senders.map((s) => viewerToken(stack, s)));
    const results = await Promise.all(senders.flatMap((_, i) => Array.from({ length: 12 }, () => sendGift(stack, tokens[i], { giftId: rose.id, hostId: "host-c", quantity: 3, idempotencyKey: key("crowd") }))));
    expect(codes(results)).toEqual({ OK: 80, INSUFFICIENT_COINS: 16 });
    for (const s of senders) expect(await balanceOf(stack, s)).toEqual({ coins: 0, debt: 0 });
  });
});
