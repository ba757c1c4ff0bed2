import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NatsFeedBus } from "../../gateway/subscriptions/feed-bus-nats.js";
import { appendToFeed } from "../../subgraphs/earnings/domain/feed.js";
import { fund, goLive, sendGift, viewerToken } from "../gifting/support.js";
import { eventually } from "../support/eventually.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, item, subscribe, until, type Sub } from "../stream/helpers.js";
import { ensureBuilt, startGatewayProcess, type GatewayProcess } from "./gateway-process.js";
import { deleteStreams, isolated, natsEnv } from "./support.js";

/**
 * The room feed over NATS end to end: every service started with NATS_URL (the run's own stream and
 * subjects on the shared server), a gift sent through the gateway travels wallet → outbox → JetStream →
 * earnings' credit → gift_feed → feed relay → `feed.room.<id>` → the gateway's one NATS subscription
 * for the room → every viewer; and a gateway SIGKILLed with viewers attached loses none of them an event.
 */
const opts = isolated("feedgw");
const env = { ...natsEnv(opts), WS_MAX_SOCKETS_PER_ADDRESS: "100000", STREAM_ROOM_LINGER_MS: "300" };
let stack: Stack;
let gifts: { id: string; name: string }[];

const ROOM = `subscription Room($s: ID!, $after: String) { liveGiftFeed(liveSessionId: $s, after: $after) { id cursor senderName quantity coins gift { name } } }`;
const ids = (s: { events: any[] }) => s.events.map((e) => e.data.liveGiftFeed.id as string);

beforeAll(async () => {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    stack = await startStack("natsfeedgw");
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  gifts = await catalogGifts(stack);
});
afterAll(async () => {
  await stack?.stop();
  await deleteStreams(opts);
});

async function viewers(url: string, n: number, session: string, prefix: string): Promise<Sub[]> {
  const tokens = await Promise.all(Array.from({ length: n }, (_, i) => stack.token({ sub: `${prefix}-${i}`, roles: ["viewer"] })));
  return tokens.map((t) => subscribe(url, t, ROOM, { s: session }));
}

const roomRows = async (session: string): Promise<string[]> =>
  (await stack.subgraphs.earnings.dataSource.query(`SELECT id FROM earnings.gift_feed WHERE live_session_id = $1 ORDER BY seq`, [session])).map((r: { id: string }) => r.id);

describe("the room feed over NATS, through gateways", () => {
  it("a gift sent through the gateway reaches every viewer of the room through the gateway's ONE NATS subscription, with no socket from the room to earnings", { timeout: 180_000 }, async () => {
    const gw = stack.gateway.subscriptions;
    const hub = stack.subgraphs.earnings.services.stream;
    expect(gw.rooms.bus.transport).toBe("nats");
    const session = await goLive(stack, "natsfeed-host");
    const subs = await viewers(stack.gateway.url, 20, session, "natsfeed-v");
    await until(() => gw.stats.roomMembers === 20 && gw.stats.busSubscriptions === 1, "the viewers to join one room on the bus", 60_000);
    await (gw.rooms.bus as NatsFeedBus).flushed();
    // The room is a NATS subscription, not a subscription to earnings' stream.
    expect(hub.stats.subscribers).toBe(0);
    expect(gw.stats.upstreamSubscriptions).toBe(0);

    await fund(stack, "natsfeed-sender", 10_000);
    const token = await viewerToken(stack, "natsfeed-sender");
    const sent: string[] = [];
    for (let i = 0; i < 8; i++) {
      const gift = gifts[i % gifts.length];
      const { payload } = await sendGift(stack, token, { giftId: gift.id, hostId: "natsfeed-host", liveSessionId: session, idempotencyKey: randomUUID() });
      expect(payload?.userErrors).toEqual([]);
      sent.push(payload!.giftEvent.id);
    }
    for (const s of subs) {
      await s.waitFor(sent.length, 60_000);
      expect(ids(s)).toEqual(sent);
      expect(s.errors).toEqual([]);
    }
    expect(subs[3].events.map((e) => e.data.liveGiftFeed.gift.name)).toEqual(sent.map((_, i) => gifts[i % gifts.length].name));
    expect(hub.stats.subscribers).toBe(0);
    expect(gw.stats).toMatchObject({ busSubscriptions: 1, busGaps: 0, upstreamSubscriptions: 0 });
    await Promise.all(subs.map((s) => s.dispose()));
    await until(() => gw.stats.rooms === 0 && gw.stats.busSubscriptions === 0, "the room to close");
  });

  it("refuses an unknown room as BAD_USER_INPUT, and a selection the bus cannot answer (host { displayName }) keeps its own subscription to earnings", { timeout: 120_000 }, async () => {
    const gw = stack.gateway.subscriptions;
    const hub = stack.subgraphs.earnings.services.stream;
    const token = await stack.token({ sub: "natsfeed-odd", roles: ["viewer"] });
    const unknown = subscribe(stack.gateway.url, token, ROOM, { s: "00000000-0000-4000-8000-000000000000" });
    await unknown.waitForEnd();
    expect(unknown.errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    await unknown.dispose();

    const session = await goLive(stack, "natsfeed-host2");
    const withHost = subscribe(stack.gateway.url, token, ROOM.replace("quantity", "quantity host { displayName }"), { s: session });
    const plain = subscribe(stack.gateway.url, token, ROOM, { s: session });
    await until(() => gw.stats.roomMembers === 2 && gw.stats.busSubscriptions === 1 && hub.stats.subscribers === 1, "one room on the bus and one on earnings", 60_000);
    await (gw.rooms.bus as NatsFeedBus).flushed();
    await stack.subgraphs.earnings.dataSource.transaction((m) => appendToFeed(m, [item({ hostId: "natsfeed-host2", giftId: gifts[0].id, liveSessionId: session, giftEventId: "natsfeed-odd-1" })]));
    for (const s of [withHost, plain]) expect(ids({ events: await s.waitFor(1, 60_000) })).toEqual(["natsfeed-odd-1"]);
    expect(withHost.events[0].data.liveGiftFeed.host.displayName).toBeTruthy();
    await Promise.all([withHost.dispose(), plain.dispose()]);
  });

  it("a gateway SIGKILLed with viewers attached: they reconnect to another gateway with their last cursor and get every event exactly once, in order", { timeout: 600_000 }, async () => {
    ensureBuilt();
    let doomed: GatewayProcess | null = await startGatewayProcess({
      ...env,
      WALLET_URL: stack.subgraphs.wallet.url,
      CATALOG_URL: stack.subgraphs.catalog.url,
      EARNINGS_URL: stack.subgraphs.earnings.url,
    });
    const survivor = stack.gateway;
    const gw = survivor.subscriptions;
    const { id: session } = await stack.subgraphs.earnings.services.sessions.start({ id: "natskill-host", name: "NATSKILL", roles: ["host"], region: "US", adult: true, exp: undefined }, "kill a gateway");
    const credit = (n: number, tag: string) =>
      stack.subgraphs.earnings.dataSource.transaction((m) => appendToFeed(m, Array.from({ length: n }, (_, k) => item({ hostId: "natskill-host", giftId: gifts[k % gifts.length].id, liveSessionId: session, giftEventId: `${tag}-${k}` }))));
    try {
      const onDoomed = await viewers(doomed.url, 30, session, "natskill-a");
      const onSurvivor = await viewers(survivor.url, 10, session, "natskill-b");
      const all = [...onDoomed, ...onSurvivor];
      // Every viewer is live once a probe reaches all of them.
      // (the doomed gateway is another process: its rooms are seen only through what its viewers get).
      await eventually(async () => {
        await credit(1, `probe-${randomUUID().slice(0, 8)}`);
        await eventually(async () => {
          for (const s of all) expect(s.events.length, JSON.stringify({ errors: s.errors, closed: s.closed })).toBeGreaterThan(0);
        }, 2_000);
      }, 60_000);
      const lastCursor = (s: Sub) => s.events.at(-1)!.data.liveGiftFeed.cursor as string;

      const TOTAL = 120;
      let produced = 0;
      const producer = (async () => {
        while (produced < TOTAL) {
          await credit(2, `storm-${produced}`);
          produced += 2;
          if (produced === 40 && doomed) {
            await doomed.kill();
            doomed = null;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
      })();
      // The doomed gateway's viewers see their socket drop and resume on the survivor from their last cursor.
      const resumed = await Promise.all(
        onDoomed.map(async (s, i) => {
          await until(() => s.closed !== null, "the killed gateway's socket to drop", 120_000);
          expect(s.closed!.code).toBe(1006);
          const token = await stack.token({ sub: `natskill-a-${i}`, roles: ["viewer"] });
          return subscribe(survivor.url, token, ROOM, { s: session, after: lastCursor(s) });
        }),
      );
      await producer;
      const expected = await roomRows(session);
      for (let i = 0; i < onDoomed.length; i++) {
        await eventually(async () => expect([...ids(onDoomed[i]), ...ids(resumed[i])].at(-1)).toBe(expected.at(-1)), 120_000);
        const got = [...ids(onDoomed[i]), ...ids(resumed[i])];
        expect(got, `viewer ${i} of the killed gateway`).toEqual(expected.slice(expected.indexOf(got[0])));
        expect(resumed[i].errors).toEqual([]);
      }
      for (const s of onSurvivor) {
        await eventually(async () => expect(ids(s).at(-1)).toBe(expected.at(-1)), 120_000);
        expect(ids(s)).toEqual(expected.slice(expected.indexOf(ids(s)[0])));
        expect(s.errors).toEqual([]);
      }
      // The resumes were answered from the survivor's room (its recent events, or a replay from earnings up to the seam).
      expect(gw.stats.roomReplays + gw.stats.roomCatchUps).toBeGreaterThanOrEqual(onDoomed.length);
      await Promise.all([...all, ...resumed].map((s) => s.dispose()));
    } finally {
      await doomed?.kill();
    }
  });
});
