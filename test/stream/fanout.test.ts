import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../../gateway/index.js";
import { appendToFeed } from "../../subgraphs/earnings/domain/feed.js";
import { startEarnings } from "../../subgraphs/earnings/index.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, subscribe, until, type Sub } from "./helpers.js";

let stack: Stack;
let earnings2: Awaited<ReturnType<typeof startEarnings>>;
let gateway2: RunningGateway;

beforeAll(async () => {
  stack = await startStack("streamfan");
  // A second earnings instance and a second gateway on the same database, as two replicas would run.
  earnings2 = await startEarnings({ databaseUrl: stack.databaseUrl, port: 0, poolSize: 4 });
  gateway2 = await stack.startGateway({ subgraphUrls: { earnings: earnings2.url } });
  await makeHost(stack, "host-f");
});
afterAll(async () => {
  await gateway2?.stop();
  await earnings2?.stop();
  await stack?.stop();
});

describe("fan-out across instances", () => {
  it("with two earnings and two gateway instances on one database, every subscriber gets every gift exactly once, in order", async () => {
    const gifts = await catalogGifts(stack);
    const token = await stack.token({ sub: "host-f", roles: ["host"] });
    const q = `subscription($after: String) { giftReceived(hostId: "host-f", after: $after) { id cursor gift { name } } }`;
    const hubs = [stack.subgraphs.earnings.services.stream, earnings2.services.stream];
    const before = hubs.map((h) => h.stats.opened);
    // Three subscribers on each gateway (gateway 1 → earnings 1, gateway 2 → earnings 2).
    const subs: Sub[] = [];
    for (let i = 0; i < 3; i++) {
      subs.push(subscribe(stack.gateway.url, token, q));
      subs.push(subscribe(gateway2.url, token, q));
    }
    await until(() => hubs.every((h, i) => h.stats.opened >= before[i] + 3), "all subscriptions to reach their earnings instance");
    // Gifts are credited through both instances' DataSources, interleaved (the consumer may run on either).
    const ids: string[] = [];
    for (let b = 0; b < 20; b++) {
      const batch = Array.from({ length: 5 }, (_, k) => item({ hostId: "host-f", giftId: gifts[0].id, giftEventId: `fan-${b * 5 + k}` }));
      ids.push(...batch.map((x) => x.giftEventId));
      const ds = (b % 2 === 0 ? stack.subgraphs.earnings : earnings2).dataSource;
      await ds.transaction((m) => appendToFeed(m, batch));
    }
    for (const s of subs) {
      const events = await s.waitFor(ids.length);
      expect(events.map((e) => e.data.giftReceived.id)).toEqual(ids);
      expect(events[0].data.giftReceived.gift.name).toBe(gifts[0].name);
    }
    // Give a duplicate the chance to show up before checking none did.
    await credit(stack, [item({ hostId: "host-f", giftId: gifts[0].id, giftEventId: "fan-last" })]);
    for (const s of subs) await s.waitFor(ids.length + 1);
    for (const s of subs) expect(s.events.map((e) => e.data.giftReceived.id)).toEqual([...ids, "fan-last"]);
    // One LISTEN connection per process, however many subscribers.
    expect(hubs.map((h) => h.listeners)).toEqual([1, 1]);
    expect(hubs.map((h) => h.stats.subscribers)).toEqual([3, 3]);
    await Promise.all(subs.map((s) => s.dispose()));
  });

  it("a room's viewers on two gateways over two earnings instances each get every gift exactly once, in order, with ONE upstream subscription per gateway", async () => {
    const gifts = await catalogGifts(stack);
    const session = await stack.subgraphs.earnings.services.sessions.start({ id: "host-f", name: "HOST-F", roles: ["host"], region: "US", adult: true, exp: undefined }, "two gateways");
    const q = `subscription($s: ID!, $after: String) { liveGiftFeed(liveSessionId: $s, after: $after) { id cursor gift { name } } }`;
    const hubs = [stack.subgraphs.earnings.services.stream, earnings2.services.stream];
    const gateways = [stack.gateway.subscriptions, gateway2.subscriptions];
    const before = hubs.map((h) => h.stats.subscribers);
    const subs: Sub[] = [];
    for (let i = 0; i < 20; i++) {
      const token = await stack.token({ sub: `room-viewer-${i}`, roles: ["viewer"] });
      subs.push(subscribe((i % 2 === 0 ? stack.gateway : gateway2).url, token, q, { s: session.id }));
    }
    await until(() => gateways.every((g) => g.stats.roomMembers === 10) && hubs.every((h, i) => h.stats.subscribers === before[i] + 1), "each gateway's room to reach its earnings instance");
    const ids: string[] = [];
    for (let b = 0; b < 10; b++) {
      const batch = Array.from({ length: 5 }, (_, k) => item({ hostId: "host-f", giftId: gifts[0].id, liveSessionId: session.id, giftEventId: `room-fan-${b * 5 + k}` }));
      ids.push(...batch.map((x) => x.giftEventId));
      await (b % 2 === 0 ? stack.subgraphs.earnings : earnings2).dataSource.transaction((m) => appendToFeed(m, batch));
    }
    for (const s of subs) expect((await s.waitFor(ids.length)).map((e) => e.data.liveGiftFeed.id)).toEqual(ids);
    await credit(stack, [item({ hostId: "host-f", giftId: gifts[0].id, liveSessionId: session.id, giftEventId: "room-fan-last" })]);
    for (const s of subs) await s.waitFor(ids.length + 1);
    for (const s of subs) expect(s.events.map((e) => e.data.liveGiftFeed.id)).toEqual([...ids, "room-fan-last"]);
    // One upstream subscription (and at most one socket) per gateway for the whole room, not one per viewer.
    expect(hubs.map((h, i) => h.stats.subscribers - before[i])).toEqual([1, 1]);
    for (const g of gateways) expect(g.stats.upstreamSockets).toBeLessThanOrEqual(1);
    await Promise.all(subs.map((s) => s.dispose()));
  });
});
