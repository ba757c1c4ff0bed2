import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { balanceOf, trace } from "../gifting/support.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credited, eventually, fund, goLive, hostToken, key, send, streamEvents, viewerToken } from "./support.js";

let stack: Stack;
let rose: { id: string; coinCost: number };
let galaxy: { id: string; coinCost: number };
let session: string;
let host: string;

const ROOM = `subscription($id: ID!, $after: String) { liveGiftFeed(liveSessionId: $id, after: $after) { id sender { id } senderName anonymous message coins comboEnded } }`;
const HOST = `subscription($h: ID!, $after: String) { giftReceived(hostId: $h, after: $after) { id sender { id } senderName anonymous message coins comboEnded } }`;
const BOARD = `query($id: ID!) { creator(id: $id) { topGifters(period: ALL_TIME) { rank sender { id } anonymous coins gifts } currentLiveSession { coinsReceived } } }`;
const HISTORY = `{ me { wallet { transactions(type: GIFT_SENT, first: 5) { edges { node { giftEvent { id sender { id } senderName anonymous message } } } } } } }`;

const chars = (n: number) => "x".repeat(n);

beforeAll(async () => {
  stack = await startStack("giftextras");
  const gifts = await catalogGifts(stack);
  rose = gifts.get("rose")!;
  galaxy = gifts.get("galaxy")!;
  session = await goLive(stack, "ex-host");
  host = await hostToken(stack, "ex-host");
});
afterAll(async () => {
  await stack?.stop();
});

describe("a message on a gift", () => {
  it("buys as many characters as the send's coins: 1+ coins 20, 10+ 50, 100+ 100, 1,000+ 150; over the tier is INVALID_INPUT and nothing is charged", async () => {
    await fund(stack, "ex-msg", 5000);
    const t = await viewerToken(stack, "ex-msg");
    const before = { balance: await balanceOf(stack, "ex-msg"), trace: await trace(stack) };
    const over = await send(stack, t, { giftId: rose.id, hostId: "ex-host", liveSessionId: session, message: chars(21), idempotencyKey: key() });
    expect(over).toEqual({ giftEvent: null, userErrors: [expect.objectContaining({ code: "INVALID_INPUT", field: ["input", "message"] })] });
    expect(await balanceOf(stack, "ex-msg")).toEqual(before.balance);
    expect(await trace(stack)).toEqual(before.trace);
    for (const [quantity, giftId, n] of [[1, rose.id, 20], [10, rose.id, 50], [99, rose.id, 50], [1, galaxy.id, 150]] as const) {
      const r = await send(stack, t, { giftId, hostId: "ex-host", liveSessionId: session, quantity, message: `${chars(n - 2)}é!`, idempotencyKey: key() });
      expect(r.userErrors).toEqual([]);
      expect(r.giftEvent.message).toBe(`${chars(n - 2)}é!`);
    }
    const r = await send(stack, t, { giftId: rose.id, hostId: "ex-host", liveSessionId: session, quantity: 99, message: chars(51), idempotencyKey: key() });
    expect(r.userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "message"] });
  });

  it("is refused with MESSAGE_REJECTED when it contains a word of the moderation list, however it is spelled, and nothing is charged", async () => {
    await fund(stack, "ex-mod", 100);
    const t = await viewerToken(stack, "ex-mod");
    const before = { balance: await balanceOf(stack, "ex-mod"), trace: await trace(stack) };
    for (const message of ["you BADWORD", "b4dw0rd!", "bádwórd", "b.a.d.w.o.r.d", "baaadword", "get free coins here", "FR33C01NS"]) {
      const r = await send(stack, t, { giftId: rose.id, hostId: "ex-host", liveSessionId: session, quantity: 10, message, idempotencyKey: key() });
      expect(r, message).toEqual({ giftEvent: null, userErrors: [expect.objectContaining({ code: "MESSAGE_REJECTED", field: ["input", "message"] })] });
    }
    expect(await balanceOf(stack, "ex-mod")).toEqual(before.balance);
    expect(await trace(stack)).toEqual(before.trace);
    const ok = await send(stack, t, { giftId: rose.id, hostId: "ex-host", liveSessionId: session, quantity: 10, message: "a good word for you", idempotencyKey: key() });
    expect(ok.userErrors).toEqual([]);
  });

  it("over 150 characters or with control characters is malformed input (BAD_USER_INPUT)", async () => {
    const t = await viewerToken(stack, "ex-mod");
    for (const message of [chars(151), "line\nbreak"]) {
      const res = await stack.gql(`mutation($input: SendGiftInput!) { sendGift(input: $input) { giftEvent { id } } }`, { input: { giftId: galaxy.id, hostId: "ex-host", message, idempotencyKey: key() } }, t);
      expect(res.errors?.[0].extensions.code).toBe("BAD_USER_INPUT");
    }
  });

  it("is shown on the room feed and the host's stream", async () => {
    await eventually(async () => expect(await credited(stack)).toBeGreaterThanOrEqual(5));
    const room = await streamEvents(stack, host, ROOM, { id: session }, 5);
    expect(room.filter((e) => !e.comboEnded).map((e) => e.message.length)).toEqual([20, 50, 50, 150, 19]);
    const mine = await streamEvents(stack, host, HOST, { h: "ex-host" }, 5);
    expect(mine.filter((e) => !e.comboEnded)[0].message).toBe(`${chars(18)}é!`);
  });
});

describe("an anonymous gift", () => {
  it("never names its sender on the room feed, the host's stream, leaderboards or webhooks, and still counts in totals", async () => {
    const s = await goLive(stack, "anon-host");
    const h = await hostToken(stack, "anon-host");
    // A partner webhook subscription, so the outbox records events (what partners would be sent).
    await stack.subgraphs.earnings.dataSource.query(
      `INSERT INTO earnings.webhook_subscriptions (partner, topics, url, secret, status, cursor_seq) VALUES ('p', '{LIVE_GIFT}', 'http://127.0.0.1:1/x', 's', 'ENABLED', 0)`,
    );
    await fund(stack, "anon-v", 1005);
    const t = await viewerToken(stack, "anon-v");
    const sent = await send(stack, t, { giftId: galaxy.id, hostId: "anon-host", liveSessionId: s, anonymous: true, message: "from a fan", idempotencyKey: key() });
    expect(sent.userErrors).toEqual([]);
    // The sender sees themselves in the result.
    expect(sent.giftEvent).toMatchObject({ sender: { id: "anon-v" }, senderName: "Viewer anon-v", anonymous: true });
    const room = await streamEvents(stack, t, ROOM, { id: s }, 1);
    expect(room[0]).toMatchObject({ sender: null, senderName: "Anonymous", anonymous: true, message: "from a fan", coins: galaxy.coinCost });
    const hostView = await streamEvents(stack, h, HOST, { h: "anon-host" }, 1);
    expect(hostView[0]).toMatchObject({ sender: null, senderName: "Anonymous", anonymous: true });
    const board = await stack.gql(BOARD, { id: "anon-host" }, h);
    expect(board.data.creator.topGifters).toEqual([{ rank: 1, sender: null, anonymous: true, coins: galaxy.coinCost, gifts: 1 }]);
    expect(board.data.creator.currentLiveSession.coinsReceived).toBe(galaxy.coinCost);
    const [hook] = await stack.subgraphs.earnings.dataSource.query(`SELECT payload FROM earnings.webhook_events WHERE host_id = 'anon-host' AND topic = 'LIVE_GIFT'`);
    expect(hook.payload).toMatchObject({ senderId: null, senderName: "Anonymous", anonymous: true, message: "from a fan" });
    expect(JSON.stringify(hook.payload)).not.toContain("anon-v");
  });

  it("is visible to its sender in their wallet history and to admins on the host's stream", async () => {
    const t = await viewerToken(stack, "anon-v");
    const history = await stack.gql(HISTORY, {}, t);
    expect(history.data.me.wallet.transactions.edges[0].node.giftEvent).toMatchObject({ sender: { id: "anon-v" }, senderName: "Viewer anon-v", anonymous: true });
    const admin = await stack.token({ sub: "ops", roles: ["admin"] });
    const adminView = await streamEvents(stack, admin, HOST, { h: "anon-host" }, 1);
    expect(adminView[0]).toMatchObject({ sender: { id: "anon-v" }, anonymous: true });
  });

  it("counts under a separate, unnamed leaderboard entry next to the same viewer's named gifts", async () => {
    const t = await viewerToken(stack, "anon-v");
    expect((await send(stack, t, { giftId: rose.id, hostId: "anon-host", quantity: 5, idempotencyKey: key() })).userErrors).toEqual([]);
    const board = await eventually(async () => {
      const b = (await stack.gql(BOARD, { id: "anon-host" })).data.creator.topGifters;
      expect(b).toHaveLength(2);
      return b;
    });
    expect(board).toEqual([
      { rank: 1, sender: null, anonymous: true, coins: galaxy.coinCost, gifts: 1 },
      { rank: 2, sender: { id: "anon-v" }, anonymous: false, coins: 5, gifts: 5 },
    ]);
  });
});

describe("gifts on a video", () => {
  it("count in the creator's totals per video, outside any live session", async () => {
    await fund(stack, "vid-v", 2000);
    const t = await viewerToken(stack, "vid-v");
    await send(stack, t, { giftId: rose.id, hostId: "ex-host", videoId: "video-123", quantity: 3, idempotencyKey: key() });
    await send(stack, t, { giftId: galaxy.id, hostId: "ex-host", videoId: "video-123", idempotencyKey: key() });
    await send(stack, t, { giftId: rose.id, hostId: "ex-host", videoId: "video-9", idempotencyKey: key() });
    const q = `query($id: ID!) { creator(id: $id) { videoGiftTotals(videoId: "video-123") { videoId coins gifts } topVideos(first: 5) { videoId coins } none: videoGiftTotals(videoId: "nope") { coins } } }`;
    const res = await eventually(async () => {
      const r = await stack.gql(q, { id: "ex-host" });
      expect(r.data.creator.topVideos).toHaveLength(2);
      expect(r.data.creator.videoGiftTotals.coins).toBe(3 + galaxy.coinCost);
      return r;
    });
    expect(res.data.creator).toEqual({
      videoGiftTotals: { videoId: "video-123", coins: 3 + galaxy.coinCost, gifts: 4 },
      topVideos: [{ videoId: "video-123", coins: 3 + galaxy.coinCost }, { videoId: "video-9", coins: 1 }],
      none: null,
    });
  });

  it("cannot also be in a live session (INVALID_INPUT, nothing charged)", async () => {
    const t = await viewerToken(stack, "vid-v");
    const before = await balanceOf(stack, "vid-v");
    const r = await send(stack, t, { giftId: rose.id, hostId: "ex-host", videoId: "video-123", liveSessionId: session, idempotencyKey: key() });
    expect(r.userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "videoId"] });
    expect(await balanceOf(stack, "vid-v")).toEqual(before);
  });
});
