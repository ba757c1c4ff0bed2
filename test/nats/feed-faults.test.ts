import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../../gateway/index.js";
import { mintToken } from "../../platform/auth.js";
import type { NatsFeedBus } from "../../gateway/subscriptions/feed-bus-nats.js";
import { composeSupergraph } from "../../scripts/compose.js";
import { appendToFeed } from "../../subgraphs/earnings/domain/feed.js";
import { startEarnings } from "../../subgraphs/earnings/index.js";
import { createTestDatabase } from "../support/db.js";
import { eventually } from "../support/eventually.js";
import { item, subscribe, until } from "../stream/helpers.js";
import { isolated, natsEnv, OwnNatsServer } from "./support.js";

/**
 * The room feed when the broker itself dies: a nats-server of this test's own (free port, own
 * store) is SIGKILLed and restarted during a gift storm while viewers watch a room through a
 * gateway on the NATS bus. Meanwhile every room reads earnings' stream (PostgreSQL); afterwards the
 * tail takes over again. Every viewer gets every event exactly once, in order.
 */
const server = new OwnNatsServer();
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let earnings: Awaited<ReturnType<typeof startEarnings>>;
let gateway: RunningGateway;

const ROOM = `subscription($s: ID!, $after: String) { liveGiftFeed(liveSessionId: $s, after: $after) { id cursor senderName quantity } }`;

beforeAll(async () => {
  await server.start();
  const env = { ...natsEnv(isolated("feedfault", { url: server.url })), WS_MAX_SOCKETS_PER_ADDRESS: "100000" };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    db = await createTestDatabase("natsfeedfault");
    earnings = await startEarnings({ databaseUrl: db.url, port: 0, poolSize: 6 });
    const { supergraph } = await composeSupergraph();
    // Only earnings is needed: the selection asks nothing of the wallet or the catalog.
    gateway = await startGateway({ port: 0, supergraphSdl: supergraph, subgraphUrls: { wallet: "http://127.0.0.1:9/graphql", catalog: "http://127.0.0.1:9/graphql", earnings: earnings.url } });
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
});
afterAll(async () => {
  await gateway?.stop();
  await earnings?.stop();
  await db?.drop();
  await server.stop();
});

describe("the room feed over NATS when NATS dies", () => {
  it("viewers get every gift exactly once, in order, when the NATS server is killed and restarted during a gift storm", { timeout: 300_000 }, async () => {
    const gw = gateway.subscriptions;
    expect(gw.rooms.bus.transport).toBe("nats");
    const session = await earnings.services.sessions.start({ id: "feedfault-host", name: "FF", roles: ["host"], region: "US", adult: true, exp: undefined }, "broker dies");
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => mintToken({ sub: `feedfault-v${i}`, roles: ["viewer"] })));
    const subs = tokens.map((t) => subscribe(gateway.url, t, ROOM, { s: session.id }));
    await until(() => gw.stats.roomMembers === 20 && gw.stats.busSubscriptions === 1, "the viewers to join the room", 60_000);
    await (gw.rooms.bus as NatsFeedBus).flushed();

    const TOTAL = 200;
    let produced = 0;
    let killedAt = -1;
    const credit = () =>
      earnings.dataSource.transaction((m) => appendToFeed(m, [0, 1].map((k) => item({ hostId: "feedfault-host", giftId: "gift-rose", liveSessionId: session.id, giftEventId: `ff-${produced + k}` }))));
    const producer = (async () => {
      while (produced < TOTAL) {
        await credit();
        produced += 2;
        if (produced === 50) {
          await server.kill();
          killedAt = produced;
        }
        if (killedAt > 0 && produced === killedAt + 50) await server.start();
        await new Promise((r) => setTimeout(r, 15));
      }
    })();
    await producer;
    const expected = Array.from({ length: TOTAL }, (_, k) => `ff-${k}`);
    for (const s of subs) {
      await s.waitFor(TOTAL, 120_000);
      expect(s.events.map((e) => e.data.liveGiftFeed.id)).toEqual(expected);
      expect(s.errors).toEqual([]);
    }
    // Earnings carried the room while NATS was away, and let go once the tail was back.
    expect(gw.stats.busReplays).toBeGreaterThan(0);
    await eventually(async () => expect(gw.stats.upstreamSubscriptions).toBe(0), 60_000);
    await Promise.all(subs.map((s) => s.dispose()));
  });
});
