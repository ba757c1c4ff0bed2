import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, subscribe, until } from "./helpers.js";

// Small per-subscriber queues so a slow subscriber is found quickly (read by the hub and the gateway at start).
const MAX_QUEUE = 200;
let stack: Stack;
let gifts: { id: string; name: string }[];

beforeAll(async () => {
  process.env.STREAM_MAX_QUEUE = String(MAX_QUEUE);
  stack = await startStack("streamslow");
  delete process.env.STREAM_MAX_QUEUE;
  gifts = await catalogGifts(stack);
  await makeHost(stack, "host-s");
});
afterAll(async () => {
  await stack?.stop();
});

const batch = (from: number, n: number) => Array.from({ length: n }, (_, k) => item({ hostId: "host-s", giftId: gifts[0].id, giftEventId: `s-${from + k}` }));

describe("slow subscribers", () => {
  it("the earnings hub ends a subscriber that does not read with SLOW_CONSUMER after what it accepted; its cursor resumes losslessly", async () => {
    const hub = stack.subgraphs.earnings.services.stream;
    const sub = hub.subscribe({ hostId: "host-s" }, null);
    await credit(stack, batch(0, MAX_QUEUE + 15));
    await until(() => hub.stats.slowClosed === 1, "the subscriber to be cut off");
    expect(hub.stats.subscribers).toBe(0); // unregistered at once, not when it finally reads
    const got: string[] = [];
    let error: any = null;
    try {
      for (;;) {
        const r = await sub.next();
        if (r.done) break;
        got.push(r.value.id);
      }
    } catch (e) {
      error = e;
    }
    expect(got).toEqual(Array.from({ length: MAX_QUEUE }, (_, i) => `s-${i}`));
    expect(error?.extensions?.code).toBe("SLOW_CONSUMER");
    const resumed = hub.subscribe({ hostId: "host-s" }, Number(Buffer.from(error.extensions.cursor, "base64url").toString().slice(4)));
    const rest: string[] = [];
    for (let i = 0; i < 15; i++) rest.push((await resumed.next()).value!.id);
    await resumed.return();
    expect(rest).toEqual(Array.from({ length: 15 }, (_, i) => `s-${MAX_QUEUE + i}`));
  });

  it("a replay burst faster than the gateway resolves it is throttled (upstream paused), not cut off: every gift arrives once, in order", async () => {
    const gw = stack.gateway.subscriptions;
    const token = await stack.token({ sub: "host-s", roles: ["host"] });
    const [{ max }] = await stack.subgraphs.earnings.dataSource.query(`SELECT coalesce(max(seq), 0)::int AS max FROM earnings.gift_feed`);
    const n = 1000;
    for (let i = 0; i < n; i += 500) await credit(stack, batch(5000 + i, 500));
    const pausesBefore = gw.stats.upstreamPauses;
    const sub = subscribe(stack.gateway.url, token, `subscription($after: String) { giftReceived(hostId: "host-s", after: $after) { id gift { name } } }`, {
      after: Buffer.from(`gf1:${max}`).toString("base64url"),
    });
    const events = await sub.waitFor(n, 90_000); // one catalog fetch per event: slow on a loaded 2-core machine
    await sub.dispose();
    expect(sub.errors).toEqual([]);
    expect(events.map((e) => e.data.giftReceived.id)).toEqual(Array.from({ length: n }, (_, i) => `s-${5000 + i}`));
    expect(gw.stats.upstreamPauses).toBeGreaterThan(pausesBefore);
    expect(gw.stats.slowClosed).toBe(0);
  });
});
