import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, subscribe, until } from "./helpers.js";

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
    const sub = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" });
    await until(() => stack.subgraphs.earnings.services.stream.stats.subscribers === 1, "the upstream subscription");
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
    const first = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" });
    await until(() => stack.subgraphs.earnings.services.stream.stats.subscribers === 1, "subscribed");
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
    const token = await stack.token({ sub: "host-b", roles: ["host"] });
    const total = 300;
    let sent = 0;
    const producer = (async () => {
      while (sent < total) {
        const batch = Array.from({ length: 5 }, (_, i) => item({ hostId: "host-b", giftId: gifts[0].id, giftEventId: `flow-${sent + i}` }));
        await credit(stack, batch);
        sent += batch.length;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const seen: string[] = [];
    let cursor: string | null = null;
    // Drop and reconnect several times mid-flow, each time resuming after the last cursor seen.
    for (let round = 0; seen.length < total; round++) {
      const sub = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-b", after: cursor });
      const want = Math.min(total, seen.length + 40 + round * 7) - seen.length;
      if (cursor === null) {
        // The first subscription starts live: make sure it is registered before the first gift counts.
        await until(() => stack.subgraphs.earnings.services.stream.stats.subscribers >= 1, "subscribed");
      }
      const events = await sub.waitFor(want);
      await sub.dispose();
      for (const e of events) seen.push(e.data.giftReceived.id);
      cursor = events[events.length - 1].data.giftReceived.cursor;
    }
    await producer;
    const flow = seen.filter((id) => id.startsWith("flow-"));
    const firstSeen = Number(flow[0].slice(5));
    expect(flow).toEqual(Array.from({ length: flow.length }, (_, i) => `flow-${firstSeen + i}`));
    expect(new Set(seen).size).toBe(seen.length);
  });
});

describe("stream authorization", () => {
  it("refuses a connection without a token with close code 4401", async () => {
    const sub = subscribe(stack.gateway.url, null, HOST_STREAM, { hostId: "host-a" });
    await sub.waitForEnd();
    expect(sub.closed?.code).toBe(4401);
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
    const sub = subscribe(stack.gateway.url, token, HOST_STREAM, { hostId: "host-a" });
    await until(() => stack.subgraphs.earnings.services.stream.stats.subscribers === 1, "subscribed");
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
