import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, opened, subscribe, until } from "./helpers.js";

let stack: Stack;
let gifts: { id: string; name: string; imageUrl: string }[];

const HOST_STREAM = `subscription($hostId: ID, $after: String) {
  giftReceived(hostId: $hostId, after: $after) {
    id cursor senderName quantity coins diamonds comboId comboCount comboEnded
    gift { id name imageUrl }
    host { id displayName }
    sender { id }
  }
}`;

beforeAll(async () => {
  stack = await startStack("streamgw");
  gifts = await catalogGifts(stack);
  await makeHost(stack, "host-a");
  await makeHost(stack, "host-b");
});
afterAll(async () => {
  await stack?.stop();
});

describe("giftReceived through the gateway", () => {
  it("delivers each credited gift to the host with the catalog's gift fields filled in, diamonds and a cursor", async () => {
    const token = await stack.token({ sub: "host-a", roles: ["viewer", "host"] });
    const sub = await opened(stack, () => subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" }));
    await credit(stack, [item({ hostId: "host-b", giftId: gifts[0].id })]); // someone else's gift: not on host-a's stream
    await credit(stack, [item({ hostId: "host-a", giftId: gifts[0].id, quantity: 2, unitCost: 5 }), item({ hostId: "host-a", giftId: gifts[1].id })]);
    const events = await sub.waitFor(2);
    const [first, second] = events.map((e) => e.data.giftReceived);
    expect(first).toMatchObject({
      senderName: "Viewer One",
      quantity: 2,
      coins: 10,
      diamonds: 5,
      gift: { id: gifts[0].id, name: gifts[0].name, imageUrl: gifts[0].imageUrl },
      host: { id: "host-a", displayName: "HOST-A" },
      sender: { id: "viewer-1" },
    });
    expect(second.gift.name).toBe(gifts[1].name);
    expect(typeof first.cursor).toBe("string");
    expect(first.cursor).not.toBe(second.cursor);
    expect(sub.errors).toEqual([]);
    await sub.dispose();
  });

  it("replays what came after the cursor, then continues live", async () => {
    const token = await stack.token({ sub: "host-a", roles: ["host"] });
    const first = await opened(stack, () => subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" }));
    await credit(stack, [item({ hostId: "host-a", giftId: gifts[0].id, giftEventId: "r-1" })]);
    const [e1] = await first.waitFor(1);
    await first.dispose();
    await credit(stack, [item({ hostId: "host-a", giftId: gifts[0].id, giftEventId: "r-2" }), item({ hostId: "host-a", giftId: gifts[0].id, giftEventId: "r-3" })]);
    const again = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a", after: e1.data.giftReceived.cursor });
    await again.waitFor(2);
    await credit(stack, [item({ hostId: "host-a", giftId: gifts[0].id, giftEventId: "r-4" })]);
    const events = await again.waitFor(3);
    expect(events.map((e) => e.data.giftReceived.id)).toEqual(["r-2", "r-3", "r-4"]);
    await again.dispose();
  });

  it("reconnecting with the last cursor while gifts keep flowing delivers every gift exactly once, in order", async () => {
    await makeHost(stack, "host-flow");
    const token = await stack.token({ sub: "host-flow", roles: ["host"] });
    const total = 300;
    let sent = 0;
    const producer = (async () => {
      while (sent < total) {
        const batch = Array.from({ length: 5 }, (_, i) => item({ hostId: "host-flow", giftId: gifts[0].id, giftEventId: `flow-${sent + i}` }));
        await credit(stack, batch);
        sent += batch.length;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const seen: string[] = [];
    let cursor = Buffer.from("gf1:0").toString("base64url"); // from the beginning of the feed
    // Drop and reconnect several times mid-flow, each time resuming after the last cursor seen.
    for (let round = 0; seen.length < total; round++) {
      const sub = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-flow", after: cursor });
      const events = await sub.waitFor(Math.min(total - seen.length, 20 + round * 7));
      await sub.dispose();
      for (const e of events) seen.push(e.data.giftReceived.id);
      cursor = events[events.length - 1].data.giftReceived.cursor;
    }
    await producer;
    expect(seen).toEqual(Array.from({ length: total }, (_, i) => `flow-${i}`));
  });
});

describe("fields resolved per event", () => {
  it("reads the live session afresh for every event (a session that ended mid-stream shows ENDED)", async () => {
    const hostUser = { id: "host-b", name: "HOST-B", roles: ["host" as const], region: "US", adult: true, exp: undefined };
    const session = await stack.subgraphs.earnings.services.sessions.start(hostUser, "Short stream");
    const token = await stack.token({ sub: "host-b", roles: ["host"] });
    const sub = await opened(stack, () =>
      subscribe(stack.gateway.url, token, `subscription($s: ID) { giftReceived(liveSessionId: $s) { id liveSession { id status } } }`, { s: session.id }),
    );
    await credit(stack, [item({ hostId: "host-b", giftId: gifts[0].id, liveSessionId: session.id })]);
    await sub.waitFor(1);
    await stack.subgraphs.earnings.services.sessions.end(hostUser, session.id);
    await credit(stack, [item({ hostId: "host-b", giftId: gifts[0].id, liveSessionId: session.id })]); // in flight when it ended
    const events = await sub.waitFor(2);
    expect(events.map((e) => e.data.giftReceived.liveSession.status)).toEqual(["LIVE", "ENDED"]);
    await sub.dispose();
  });
});

describe("stream authorization", () => {
  it("answers a host stream without a token with UNAUTHENTICATED (anonymous sockets only read public feeds)", async () => {
    const sub = subscribe(stack.gateway.url, null, HOST_STREAM, { hostId: "host-a" });
    await sub.waitForEnd();
    expect(sub.errors[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(sub.events).toEqual([]);
    await sub.dispose();
  });

  it("refuses an invalid token with close code 4401", async () => {
    const sub = subscribe(stack.gateway.url, "not.a.jwt", HOST_STREAM, { hostId: "host-a" });
    await sub.waitForEnd();
    expect(sub.closed?.code).toBe(4401);
  });

  it("refuses another user's private stream with a FORBIDDEN error", async () => {
    const token = await stack.token({ sub: "viewer-9", roles: ["viewer"] });
    const sub = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" });
    await sub.waitForEnd();
    expect(sub.errors[0]?.extensions?.code).toBe("FORBIDDEN");
    await sub.dispose();
  });

  it("lets an admin open any host's stream", async () => {
    const token = await stack.token({ sub: "ops-1", roles: ["admin"] });
    const sub = await opened(stack, () => subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" }));
    await credit(stack, [item({ hostId: "host-a", giftId: gifts[0].id })]);
    const [e] = await sub.waitFor(1);
    expect(e.data.giftReceived.diamonds).toBe(5);
    await sub.dispose();
  });

  it("rejects a malformed cursor as BAD_USER_INPUT", async () => {
    const token = await stack.token({ sub: "host-a", roles: ["host"] });
    const sub = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a", after: "bm90LWEtY3Vyc29y" });
    await sub.waitForEnd();
    expect(sub.errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    await sub.dispose();
  });

  it("ends the stream when the token expires", async () => {
    const token = await stack.token({ sub: "host-a", roles: ["host"] }, { expiresIn: "2s" });
    const sub = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" });
    await sub.waitForEnd();
    expect(sub.closed?.code).toBe(4401);
    expect(sub.closed?.reason).toMatch(/expired/);
  });
});

describe("liveGiftFeed (a room's public feed)", () => {
  const ROOM = `subscription($liveSessionId: ID!, $after: String) {
    liveGiftFeed(liveSessionId: $liveSessionId, after: $after) { __typename id cursor senderName quantity gift { name imageUrl } host { id } }
  }`;

  it("gives any signed-in viewer the session's gifts with catalog fields, but never the host's diamonds", async () => {
    const session = await stack.subgraphs.earnings.services.sessions.start({ id: "host-a", name: "HOST-A", roles: ["host"], region: "US", adult: true, exp: undefined }, "Friday stream");
    const viewer = await stack.token({ sub: "viewer-2", roles: ["viewer"] });
    const sub = await opened(stack, () => subscribe(stack.gateway.url, viewer, ROOM, { liveSessionId: session.id }));
    await credit(stack, [
      item({ hostId: "host-a", giftId: gifts[0].id, liveSessionId: null, giftEventId: "not-in-room" }),
      item({ hostId: "host-a", giftId: gifts[0].id, liveSessionId: session.id, giftEventId: "in-room", unitCost: 100 }),
    ]);
    const [e] = await sub.waitFor(1);
    expect(e.data.liveGiftFeed).toMatchObject({ __typename: "RoomGiftEvent", id: "in-room", gift: { name: gifts[0].name }, host: { id: "host-a" } });
    // The feed's type has no diamonds at all (DECISIONS 59): not even the host can select them here.
    const withDiamonds = subscribe(stack.gateway.url, viewer, ROOM.replace("quantity", "quantity diamonds"), { liveSessionId: session.id });
    await withDiamonds.waitForEnd();
    expect(withDiamonds.errors[0]?.message).toMatch(/Cannot query field "diamonds" on type "RoomGiftEvent"/);
    await withDiamonds.dispose();
    const hostToken = await stack.token({ sub: "host-a", roles: ["host"] });
    const hostView = subscribe(stack.gateway.url, hostToken, ROOM, { liveSessionId: session.id, after: null });
    const replay = subscribe(stack.gateway.url, hostToken, ROOM.replace("liveGiftFeed(liveSessionId: $liveSessionId, after: $after)", "liveGiftFeed(liveSessionId: $liveSessionId, after: $after)"), {
      liveSessionId: session.id,
      after: Buffer.from("gf1:0").toString("base64url"),
    });
    const [r] = await replay.waitFor(1);
    expect(r.data.liveGiftFeed).toMatchObject({ __typename: "RoomGiftEvent", id: "in-room" });
    await Promise.all([sub.dispose(), hostView.dispose(), replay.dispose()]);
  });

  it("refuses an unknown live session as BAD_USER_INPUT, for anonymous viewers too", async () => {
    const viewer = await stack.token({ sub: "viewer-2", roles: ["viewer"] });
    const unknown = subscribe(stack.gateway.url, viewer, ROOM, { liveSessionId: "00000000-0000-4000-8000-000000000000" });
    await unknown.waitForEnd();
    expect(unknown.errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    await unknown.dispose();
    const anon = subscribe(stack.gateway.url, null, ROOM, { liveSessionId: "00000000-0000-4000-8000-000000000000" });
    await anon.waitForEnd();
    expect(anon.errors[0]?.extensions?.code).toBe("BAD_USER_INPUT");
    await anon.dispose();
  });
});

describe("combos on the stream", () => {
  it("carries the running comboCount and a combo end that counts no gift twice", async () => {
    const token = await stack.token({ sub: "host-b", roles: ["host"] });
    const sub = await opened(stack, () => subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-b" }));
    const c = { hostId: "host-b", giftId: gifts[0].id, senderId: "fan-1", comboId: "combo-7" };
    await credit(stack, [item(c), item({ ...c, quantity: 3 })]);
    await credit(stack, [item({ ...c, comboId: null, giftId: gifts[1].id })]); // breaks the streak
    const events = (await sub.waitFor(4)).map((e) => e.data.giftReceived);
    expect(events.map((e) => [e.quantity, e.comboCount, e.comboEnded])).toEqual([
      [1, 1, false],
      [3, 4, false],
      [0, 4, true],
      [1, null, null],
    ]);
    expect(events[2]).toMatchObject({ coins: 0, diamonds: 0, comboId: "combo-7", gift: { name: gifts[0].name } });
    expect(events.reduce((n, e) => n + e.quantity, 0)).toBe(5);
    await sub.dispose();
  });
});

describe("stream lifecycle", () => {
  it("completes open subscriptions with SCHEMA_RELOADED when the supergraph changes", async () => {
    const token = await stack.token({ sub: "host-a", roles: ["host"] });
    const sub = await opened(stack, () => subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" }));
    const sdl = (stack.gateway.subscriptions as unknown as { executor: { supergraphSdl: string } }).executor.supergraphSdl;
    stack.gateway.subscriptions.onSchema(`${sdl}\n# reloaded\n`);
    await sub.waitForEnd();
    expect(sub.errors[0]?.extensions?.code).toBe("SCHEMA_RELOADED");
    await until(() => stack.subgraphs.earnings.services.stream.stats.subscribers === 0, "the upstream to end");
    // Resubscribing plans against the new schema and works.
    const again = await opened(stack, () => subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" }));
    await credit(stack, [item({ hostId: "host-a", giftId: gifts[0].id })]);
    await again.waitFor(1);
    await Promise.all([sub.dispose(), again.dispose()]);
  });

  it("ends the upstream subscription as soon as the client leaves", async () => {
    const token = await stack.token({ sub: "host-a", roles: ["host"] });
    const sub = await opened(stack, () => subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" }));
    await sub.dispose();
    await until(() => stack.subgraphs.earnings.services.stream.stats.subscribers === 0, "the upstream subscription to end");
    await until(() => stack.gateway.subscriptions.stats.upstreamSockets === 0, "the upstream socket to close");
  });

  it("delivers an event with an error for the catalog's fields while the catalog is down (gift null, cursor and amounts intact), and keeps the stream open", async () => {
    const token = await stack.token({ sub: "host-a", roles: ["host"] });
    const q = `subscription { giftReceived(hostId: "host-a") { id cursor quantity diamonds gift { id name } } }`;
    const sub = await opened(stack, () => subscribe(stack.gateway.url, token, q));
    await stack.subgraphs.catalog.stop();
    await credit(stack, [item({ hostId: "host-a", giftId: gifts[0].id, giftEventId: "while-down-1" })]);
    await until(() => sub.raw.length > 0, "the event");
    expect(sub.raw[0].errors?.length).toBeGreaterThan(0);
    expect(sub.raw[0].errors?.[0]?.extensions).toMatchObject({ code: "SUBGRAPH_UNAVAILABLE", serviceName: "catalog" });
    // Only the catalog's part is missing: a client keeps the cursor and counts the gift.
    const event = (sub.raw[0].data as { giftReceived: { id: string; cursor: string; quantity: number; diamonds: number; gift: unknown } }).giftReceived;
    expect(event).toMatchObject({ id: "while-down-1", quantity: 1, gift: null });
    expect(typeof event.cursor).toBe("string");
    expect(sub.completed).toBe(false);
    expect(sub.closed).toBe(null);
    await credit(stack, [item({ hostId: "host-a", giftId: gifts[0].id, giftEventId: "while-down-2" })]);
    await until(() => sub.raw.length >= 2, "the second event");
    expect(sub.completed).toBe(false);
    await sub.dispose();
  });
});
