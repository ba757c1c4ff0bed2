import "reflect-metadata";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { sql } from "../support/db.js";
import { catalogGifts, credit, item, makeHost, opened, subscribe, until, wsUrl } from "./helpers.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack("streamleak");
  await makeHost(stack, "host-l");
});
afterAll(async () => {
  await stack?.stop();
});

async function listenerConnections(): Promise<number> {
  const db = await sql(stack.databaseUrl);
  try {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'earnings-feed-listener' AND datname = current_database()`);
    return rows[0].n;
  } finally {
    await db.end();
  }
}

describe("subscription leaks", () => {
  it("1,000 subscribe/unsubscribe cycles leave 0 open upstream subscriptions and no growth in listeners", async () => {
    const token = await stack.token({ sub: "host-l", roles: ["host"] });
    const hub = stack.subgraphs.earnings.services.stream;
    const gw = stack.gateway.subscriptions;
    const listenersBefore = await listenerConnections();
    expect(listenersBefore).toBe(1);
    // One client connection, many operations: the way a host app flips between screens.
    const client = createClient({ url: wsUrl(stack.gateway.url), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const query = `subscription { giftReceived(hostId: "host-l") { id cursor gift { name } } }`;
    for (let i = 0; i < 1000; i++) {
      const [hubBefore, gwBefore] = [hub.stats.opened, gw.stats.opened];
      const dispose = client.subscribe({ query }, { next: () => {}, error: () => {}, complete: () => {} });
      // Even cycles leave once the subscription reached earnings; odd ones as soon as the gateway
      // has it, while its upstream subscription is still being set up.
      if (i % 2 === 0) await until(() => hub.stats.opened > hubBefore, `cycle ${i} to reach earnings`);
      else await until(() => gw.stats.opened > gwBefore, `cycle ${i} to reach the gateway`);
      dispose();
    }
    await until(() => gw.stats.subscriptions === 0 && gw.stats.upstreamSubscriptions === 0 && hub.stats.subscribers === 0, "every subscription to end");
    await until(() => gw.stats.upstreamSockets === 0, "upstream sockets to close");
    expect(gw.stats.opened).toBeGreaterThanOrEqual(1000);
    expect(hub.stats.opened).toBeGreaterThanOrEqual(500);
    expect(hub.stats.closed).toBe(hub.stats.opened);
    expect(hub.listeners).toBe(1);
    expect(await listenerConnections()).toBe(listenersBefore);
    await client.dispose();
    await until(() => gw.connections === 0, "the client connection to close");

    // Still serving after all that.
    const gifts = await catalogGifts(stack);
    const sub = await opened(stack, () => subscribe(stack.gateway.url, token, query));
    await credit(stack, [item({ hostId: "host-l", giftId: gifts[0].id })]);
    const [e] = await sub.waitFor(1);
    expect(e.data.giftReceived.gift.name).toBe(gifts[0].name);
    await sub.dispose();
  });

  it("500 subscribe/unsubscribe cycles on a room's public feed (live and resuming) leave no room, member, upstream subscription or socket behind", async () => {
    const hub = stack.subgraphs.earnings.services.stream;
    const gw = stack.gateway.subscriptions;
    const session = await stack.subgraphs.earnings.services.sessions.start({ id: "host-l", name: "HOST-L", roles: ["host"], region: "US", adult: true, exp: undefined }, "leak room");
    const token = await stack.token({ sub: "viewer-leak", roles: ["viewer"] });
    const client = createClient({ url: wsUrl(stack.gateway.url), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const query = `subscription($s: ID!, $after: String) { liveGiftFeed(liveSessionId: $s, after: $after) { id cursor } }`;
    const old = Buffer.from("gf1:0").toString("base64url"); // older than anything the room has: replays through its own upstream
    for (let i = 0; i < 500; i++) {
      const gwBefore = gw.stats.opened;
      const dispose = client.subscribe({ query, variables: { s: session.id, after: i % 3 === 0 ? old : null } }, { next: () => {}, error: () => {}, complete: () => {} });
      await until(() => gw.stats.opened > gwBefore, `cycle ${i} to reach the gateway`);
      if (i % 2 === 0) await until(() => gw.stats.upstreamSubscriptions > 0 && hub.stats.subscribers >= gw.stats.upstreamSubscriptions, `cycle ${i} to reach earnings`);
      dispose();
    }
    await until(() => gw.stats.roomMembers === 0 && gw.stats.subscriptions === 0, "every member to leave");
    await until(() => gw.stats.rooms === 0 && gw.stats.upstreamSubscriptions === 0 && hub.stats.subscribers === 0, "the room and every replay to end");
    await until(() => gw.stats.upstreamSockets === 0, "upstream sockets to close");
    expect(gw.stats.roomCatchUps).toBeGreaterThan(0);
    expect(hub.listeners).toBe(1);
    await client.dispose();
  });

  it("keeps delivering when the feed listener's database connection is killed, and reconnects it", async () => {
    const gifts = await catalogGifts(stack);
    const token = await stack.token({ sub: "host-l", roles: ["host"] });
    const hub = stack.subgraphs.earnings.services.stream;
    const sub = await opened(stack, () => subscribe(stack.gateway.url, token, `subscription { giftReceived(hostId: "host-l") { id } }`));
    const db = await sql(stack.databaseUrl);
    const killed = await db.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'earnings-feed-listener' AND datname = current_database()`);
    expect(killed.rows).toEqual([{ ok: true }]);
    await db.end();
    await credit(stack, [item({ hostId: "host-l", giftId: gifts[0].id, giftEventId: "after-kill" })]);
    const events = await sub.waitFor(1);
    expect(events.map((e) => e.data.giftReceived.id)).toEqual(["after-kill"]);
    await until(async () => hub.listeners === 1 && (await listenerConnections()) === 1, "the listener to reconnect");
    await credit(stack, [item({ hostId: "host-l", giftId: gifts[0].id, giftEventId: "after-reconnect" })]);
    await sub.waitFor(2);
    expect(sub.events.map((e) => e.data.giftReceived.id)).toEqual(["after-kill", "after-reconnect"]);
    await sub.dispose();
  });
});
