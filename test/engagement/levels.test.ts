import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { produce } from "../earnings/support.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credited, eventually, fund, goLive, hostToken, key, send, streamEvents, viewerToken } from "./support.js";

let stack: Stack;
let perfume: { id: string; coinCost: number };
let rose: { id: string; coinCost: number };

const HOST = `subscription($h: ID!, $after: String) { giftReceived(hostId: $h, after: $after) { id coins sender { id } senderLevel senderLevelUp { from to } } }`;
/** The seeded curve: level L from 5 × (L−1)³ coins. */
const levelFor = (coins: number) => {
  let l = 1;
  for (let x = 1; x <= 50; x++) if (coins >= 5 * (x - 1) ** 3) l = x;
  return l;
};

async function gifterLevel(userId: string, token?: string) {
  const res = await stack.gql(`query($id: ID!) { creator(id: $id) { user { gifterLevel { level coinsToNext } } } }`, { id: userId }, token);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.creator?.user.gifterLevel;
}

beforeAll(async () => {
  stack = await startStack("levels");
  const gifts = await catalogGifts(stack);
  perfume = gifts.get("perfume")!;
  rose = gifts.get("rose")!;
});
afterAll(async () => {
  await stack?.stop();
});

describe("gifter levels", () => {
  it("start at 1 with 5 coins to the next level; coinsToNext is only for the user themselves and admins", async () => {
    const t = await viewerToken(stack, "lvl-new");
    const me = await stack.gql(`{ me { id gifterLevel { level coinsToNext } } }`, {}, t);
    expect(me.data.me.gifterLevel).toEqual({ level: 1, coinsToNext: 5 });
    await goLive(stack, "lvl-host-0");
    expect(await gifterLevel("lvl-host-0")).toEqual({ level: 1, coinsToNext: null });
  });

  it("climb from lifetime coins spent; every stream event carries the sender's level and each crossing produces exactly one level-up, also under concurrent sends", async () => {
    const session = await goLive(stack, "lvl-host");
    const host = await hostToken(stack, "lvl-host");
    await Promise.all([fund(stack, "lvl-a", 2000), fund(stack, "lvl-b", 2000)]);
    const [a, b] = await Promise.all([viewerToken(stack, "lvl-a"), viewerToken(stack, "lvl-b")]);
    // 30 sends of 40 coins from each of two viewers at once: 1,200 coins each, levels 1 → 7.
    const sends = [a, b].flatMap((t) => Array.from({ length: 30 }, () => send(stack, t, { giftId: perfume.id, hostId: "lvl-host", liveSessionId: session, quantity: 2, idempotencyKey: key() })));
    const results = await Promise.all(sends);
    expect(results.every((r) => r.userErrors.length === 0)).toBe(true);
    const events = await streamEvents(stack, host, HOST, { h: "lvl-host" }, 60);
    for (const sender of ["lvl-a", "lvl-b"]) {
      const mine = events.filter((e) => e.sender.id === sender);
      expect(mine).toHaveLength(30);
      // The level on each event is the level of the running total in stream (credit) order.
      expect(mine.map((e) => e.senderLevel)).toEqual(mine.map((_, i) => levelFor((i + 1) * 40)));
      const ups = mine.filter((e) => e.senderLevelUp).map((e) => e.senderLevelUp);
      // One level-up per crossing: contiguous from 1 to the final level, never repeated.
      expect(ups.map((u) => u.from)).toEqual([1, ...ups.slice(0, -1).map((u) => u.to)]);
      expect(ups.at(-1).to).toBe(7);
      expect(ups).toHaveLength(mine.filter((_, i) => levelFor((i + 1) * 40) > levelFor(i * 40)).length);
    }
    const me = await stack.gql(`{ me { gifterLevel { level coinsToNext } } }`, {}, a);
    expect(me.data.me.gifterLevel).toEqual({ level: 7, coinsToNext: 5 * 7 ** 3 - 1200 });
  });

  it("a re-delivered gift.sent event moves neither the lifetime total nor the level again", async () => {
    await goLive(stack, "lvl-host-2");
    await fund(stack, "lvl-c", 100);
    const t = await viewerToken(stack, "lvl-c");
    const sent = await send(stack, t, { giftId: perfume.id, hostId: "lvl-host-2", quantity: 2, idempotencyKey: key() });
    const ds = stack.subgraphs.earnings.dataSource;
    await eventually(async () => expect((await ds.query(`SELECT coins FROM earnings.gifter_lifetime WHERE sender_id = 'lvl-c'`))[0]?.coins).toBe("40"));
    const [{ payload }] = await ds.query(`SELECT payload FROM eventlog.events WHERE event_id = $1`, [sent.giftEvent.id]);
    await produce(ds, [payload]);
    // A later gift is credited after the duplicate (the consumer reads in order).
    const before = await credited(stack);
    await send(stack, t, { giftId: rose.id, hostId: "lvl-host-2", idempotencyKey: key() });
    await eventually(async () => expect(await credited(stack)).toBe(before + 1));
    const [{ coins }] = await ds.query(`SELECT coins FROM earnings.gifter_lifetime WHERE sender_id = 'lvl-c'`);
    expect(Number(coins)).toBe(41);
    const me = await stack.gql(`{ me { gifterLevel { level coinsToNext } } }`, {}, t);
    expect(me.data.me.gifterLevel).toEqual({ level: 3, coinsToNext: 135 - 41 });
  });
});
