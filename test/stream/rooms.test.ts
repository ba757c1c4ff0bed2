import "reflect-metadata";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, opened, subscribe, until, wsUrl, type Sub } from "./helpers.js";

// Small bounds so the tests reach them quickly (read by the gateway when the stack starts).
const REPLAY_EVENTS = 40;
const MAX_BUFFERED_BYTES = 32 * 1024;
let stack: Stack;
let gifts: { id: string; name: string; imageUrl: string }[];

const ROOM = `subscription($s: ID!, $after: String) { liveGiftFeed(liveSessionId: $s, after: $after) { id cursor senderName quantity gift { name imageUrl } } }`;

beforeAll(async () => {
  process.env.STREAM_ROOM_REPLAY_EVENTS = String(REPLAY_EVENTS);
  process.env.STREAM_MAX_BUFFERED_BYTES = String(MAX_BUFFERED_BYTES);
  process.env.STREAM_ROOM_LINGER_MS = "300";
  // A thousand viewers from one test process: one address, far above the edge's per-address socket cap.
  process.env.WS_MAX_SOCKETS_PER_ADDRESS = "100000";
  try {
    stack = await startStack("streamrooms");
  } finally {
    delete process.env.STREAM_ROOM_REPLAY_EVENTS;
    delete process.env.STREAM_MAX_BUFFERED_BYTES;
    delete process.env.STREAM_ROOM_LINGER_MS;
    delete process.env.WS_MAX_SOCKETS_PER_ADDRESS;
  }
  gifts = await catalogGifts(stack);
});
afterAll(async () => {
  await stack?.stop();
});

async function room(hostId: string): Promise<string> {
  await makeHost(stack, hostId);
  const s = await stack.subgraphs.earnings.services.sessions.start({ id: hostId, name: hostId.toUpperCase(), roles: ["host"], region: "US", adult: true, exp: undefined }, "room test");
  return s.id;
}

async function viewers(n: number, sessionId: string, query = ROOM, prefix = "v"): Promise<Sub[]> {
  const tokens = await Promise.all(Array.from({ length: n }, (_, i) => stack.token({ sub: `${prefix}-${i}`, roles: ["viewer"] })));
  return opened(stack, () => tokens.map((t) => subscribe(stack.gateway.url, t, query, { s: sessionId })), n, 120_000);
}

async function leave(subs: Sub[]): Promise<void> {
  await Promise.all(subs.map((s) => s.dispose()));
  await until(() => stack.gateway.subscriptions.stats.rooms === 0, "the room to close");
}

const ids = (s: Sub) => s.events.map((e) => e.data.liveGiftFeed.id);

describe("rooms: one upstream per public stream per gateway", () => {
  it("1,000 viewers of one room share ONE upstream subscription on at most one socket; each gets every gift once, in order, executed once per gift", { timeout: 300_000 }, async () => {
    const sessionId = await room("host-big-room");
    const gw = stack.gateway.subscriptions;
    const hub = stack.subgraphs.earnings.services.stream;
    const subs = await viewers(1000, sessionId);
    expect(gw.stats.roomMembers).toBe(1000);
    expect(gw.stats.upstreamSockets).toBeLessThanOrEqual(1);
    expect(gw.stats.upstreamSubscriptions).toBe(1);
    expect(hub.stats.subscribers).toBe(1);
    const executions = gw.stats.roomExecutions;
    const sent = Array.from({ length: 10 }, (_, i) => `big-${i}`);
    await credit(stack, sent.map((id, k) => item({ hostId: "host-big-room", giftId: gifts[k % 3].id, liveSessionId: sessionId, giftEventId: id })));
    for (const s of subs) await s.waitFor(sent.length, 60_000);
    for (const s of subs) {
      expect(ids(s)).toEqual(sent);
      expect(s.errors).toEqual([]);
    }
    expect(subs[999].events[1].data.liveGiftFeed.gift).toEqual({ name: gifts[1].name, imageUrl: gifts[1].imageUrl });
    expect(gw.stats.roomExecutions - executions).toBe(sent.length);
    expect(gw.stats.upstreamSockets).toBeLessThanOrEqual(1);
    await leave(subs);
  });

  it("releases the room's upstream shortly after the last viewer leaves, and opens a new one for the next viewer", async () => {
    const sessionId = await room("host-release");
    const gw = stack.gateway.subscriptions;
    const hub = stack.subgraphs.earnings.services.stream;
    const subs = await viewers(5, sessionId);
    await Promise.all(subs.map((s) => s.dispose()));
    await until(() => gw.stats.rooms === 0 && gw.stats.roomMembers === 0 && gw.stats.subscriptions === 0, "the room to close");
    await until(() => hub.stats.subscribers === 0 && gw.stats.upstreamSubscriptions === 0 && gw.stats.upstreamSockets === 0, "the upstream to end");
    const [again] = await viewers(1, sessionId);
    await credit(stack, [item({ hostId: "host-release", giftId: gifts[0].id, liveSessionId: sessionId, giftEventId: "after-release" })]);
    await again.waitFor(1);
    expect(ids(again)).toEqual(["after-release"]);
    await leave([again]);
  });

  it("a selection with a caller-dependent field still shares the room's upstream but executes per viewer, with the viewer's token", async () => {
    const sessionId = await room("host-mixed");
    const gw = stack.gateway.subscriptions;
    const hub = stack.subgraphs.earnings.services.stream;
    const shared = await viewers(3, sessionId, ROOM, "mixed-shared");
    const own = await viewers(2, sessionId, `subscription($s: ID!, $after: String) { liveGiftFeed(liveSessionId: $s, after: $after) { id cursor senderName quantity gift { name imageUrl } } }`.replace("gift { name imageUrl }", "gift { name priceHistory { coinCost } }"), "mixed-own");
    expect(hub.stats.subscribers).toBe(1);
    const executions = gw.stats.roomExecutions;
    const passed = gw.sharedFetches.catalog.stats.passedThrough;
    await credit(stack, [item({ hostId: "host-mixed", giftId: gifts[0].id, liveSessionId: sessionId, giftEventId: "mixed-1" })]);
    for (const s of [...shared, ...own]) await s.waitFor(1);
    expect(own[0].events[0].data.liveGiftFeed.gift.priceHistory.length).toBeGreaterThan(0);
    expect(gw.stats.roomExecutions - executions).toBe(1 + 2); // once for the 3 alike, once per caller-dependent viewer
    expect(gw.sharedFetches.catalog.stats.passedThrough - passed).toBe(2);
    await leave([...shared, ...own]);
  });
});

describe("rooms: the upstream drops", () => {
  it("when the room's upstream socket drops (a missed keep-alive, a network blip), the room resubscribes from its last cursor: viewers see every gift once, in order, and no error", async () => {
    const sessionId = await room("host-drop");
    const gw = stack.gateway.subscriptions;
    const subs = await viewers(20, sessionId, ROOM, "drop");
    await credit(stack, [item({ hostId: "host-drop", giftId: gifts[0].id, liveSessionId: sessionId, giftEventId: "drop-0" })]);
    for (const s of subs) await s.waitFor(1);
    const resubscribes = gw.stats.roomResubscribes;
    expect(gw.rooms.upstreamSockets.size).toBe(1);
    for (const socket of gw.rooms.upstreamSockets) socket.terminate(); // no close frame: the peer sees 1006
    // Gifts committed while the room is reconnecting are replayed from its cursor.
    await credit(stack, [1, 2, 3].map((k) => item({ hostId: "host-drop", giftId: gifts[0].id, liveSessionId: sessionId, giftEventId: `drop-${k}` })));
    await until(() => gw.stats.roomResubscribes > resubscribes, "the room to resubscribe");
    await credit(stack, [item({ hostId: "host-drop", giftId: gifts[0].id, liveSessionId: sessionId, giftEventId: "drop-4" })]);
    for (const s of subs) {
      await s.waitFor(5);
      expect(ids(s)).toEqual(["drop-0", "drop-1", "drop-2", "drop-3", "drop-4"]);
      expect(s.errors).toEqual([]);
    }
    await leave(subs);
  });
});

describe("rooms: resume with a cursor", () => {
  it("500 viewers reconnecting with their cursors during a gift storm each get every gift exactly once, in order (from the room's recent events or their own replay until the seam)", { timeout: 300_000 }, async () => {
    const sessionId = await room("host-storm");
    const gw = stack.gateway.subscriptions;
    const n = 500;
    const total = 200;
    const tokens = await Promise.all(Array.from({ length: n }, (_, i) => stack.token({ sub: `storm-${i}`, roles: ["viewer"] })));
    const first = await opened(stack, () => tokens.map((t) => subscribe(stack.gateway.url, t, ROOM, { s: sessionId })), n, 120_000);
    const [replaysBefore, catchUpsBefore] = [gw.stats.roomReplays, gw.stats.roomCatchUps];
    let sent = 0;
    const producer = (async () => {
      while (sent < total) {
        const batch = Array.from({ length: 2 }, (_, k) => item({ hostId: "host-storm", giftId: gifts[0].id, liveSessionId: sessionId, giftEventId: `storm-${sent + k}` }));
        await credit(stack, batch);
        sent += batch.length;
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    const seen: string[][] = Array.from({ length: n }, () => []);
    await Promise.all(
      first.map(async (sub0, i) => {
        let sub = sub0;
        let round = 0;
        for (;;) {
          const want = Math.min(total - seen[i].length, 15 + ((i * 7 + round * 13) % 40));
          const events = await sub.waitFor(want, 120_000);
          await sub.dispose();
          for (const e of events) seen[i].push(e.data.liveGiftFeed.id);
          if (seen[i].length >= total) return;
          const cursor = events[events.length - 1].data.liveGiftFeed.cursor;
          // Every 10th viewer stays away until the room has moved past its recent events: its own replay must meet the room.
          if (i % 10 === 0 && round === 0) {
            const at = seen[i].length;
            await until(() => sent >= Math.min(total, at + REPLAY_EVENTS + 10), "the room to move on", 60_000);
          }
          round++;
          sub = subscribe(stack.gateway.url, tokens[i], ROOM, { s: sessionId, after: cursor });
        }
      }),
    );
    await producer;
    const expected = Array.from({ length: total }, (_, k) => `storm-${k}`);
    for (let i = 0; i < n; i++) expect(seen[i], `viewer ${i}`).toEqual(expected);
    expect(gw.stats.roomReplays - replaysBefore).toBeGreaterThan(0);
    expect(gw.stats.roomCatchUps - catchUpsBefore).toBeGreaterThan(0);
    await until(() => gw.stats.rooms === 0 && gw.stats.upstreamSubscriptions === 0, "the room and every replay to end");
  });
});

describe("rooms: backpressure per socket", () => {
  it("a viewer whose socket stops reading is ended with SLOW_CONSUMER and its last cursor, the room keeps flowing, and resuming from that cursor loses nothing", { timeout: 300_000 }, async () => {
    const sessionId = await room("host-slow-room");
    const gw = stack.gateway.subscriptions;
    const token = await stack.token({ sub: "slow-phone", roles: ["viewer"] });
    const [healthy] = await viewers(1, sessionId, ROOM, "healthy");
    // A raw graphql-ws client whose TCP socket we stop reading.
    const ws = new WebSocket(wsUrl(stack.gateway.url), "graphql-transport-ws");
    const frames: any[] = [];
    ws.on("message", (m) => frames.push(JSON.parse(String(m))));
    await new Promise((r) => ws.once("open", r));
    ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } }));
    await until(() => frames.some((f) => f.type === "connection_ack"), "the ack");
    const members = gw.stats.roomMembers;
    ws.send(JSON.stringify({ id: "slow", type: "subscribe", payload: { query: ROOM, variables: { s: sessionId } } }));
    await until(() => gw.stats.roomMembers === members + 1, "the slow viewer to join");
    (ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
    const slowBefore = gw.stats.slowClosed;
    let produced = 0;
    // Until the kernel's socket buffers are full and the gateway's own buffer passes the bound (a bound, not a timing).
    while (gw.stats.slowClosed === slowBefore && produced < 40_000) {
      await credit(stack, Array.from({ length: 500 }, (_, k) => item({ hostId: "host-slow-room", giftId: gifts[0].id, liveSessionId: sessionId, giftEventId: `slow-${produced + k}`, senderName: "x".repeat(200) })));
      produced += 500;
    }
    expect(gw.stats.slowClosed).toBe(slowBefore + 1);
    await healthy.waitFor(produced, 120_000);
    expect(ids(healthy)).toEqual(Array.from({ length: produced }, (_, k) => `slow-${k}`));
    (ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await until(() => frames.some((f) => f.id === "slow" && f.type === "error"), "the slow viewer's error", 60_000);
    const nexts = frames.filter((f) => f.id === "slow" && f.type === "next").map((f) => f.payload.data.liveGiftFeed);
    const error = frames.find((f) => f.id === "slow" && f.type === "error").payload[0];
    expect(error.extensions.code).toBe("SLOW_CONSUMER");
    expect(nexts.length).toBeGreaterThan(0);
    expect(nexts.length).toBeLessThan(produced);
    expect(nexts.map((e: { id: string }) => e.id)).toEqual(Array.from({ length: nexts.length }, (_, k) => `slow-${k}`));
    expect(error.extensions.cursor).toBe(nexts[nexts.length - 1].cursor);
    ws.close();
    const resumed = subscribe(stack.gateway.url, token, ROOM, { s: sessionId, after: error.extensions.cursor });
    await resumed.waitFor(produced - nexts.length, 120_000);
    expect(ids(resumed)).toEqual(Array.from({ length: produced - nexts.length }, (_, k) => `slow-${nexts.length + k}`));
    await leave([healthy, resumed]);
  });
});
