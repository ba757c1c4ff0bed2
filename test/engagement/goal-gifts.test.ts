import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credited, eventually, fund, goLive, hostToken, key, send, viewerToken } from "./support.js";

let stack: Stack;
let admin: string;
let rose: { id: string; coinCost: number };
let perfume: { id: string; coinCost: number };
let luckyCat: { id: string; coinCost: number };

const CREATE = `mutation($input: CreateLiveGoalInput!) {
  createLiveGoal(input: $input) { goal { id targetCoins progressCoins giftId status } userErrors { code field message } }
}`;
const UPDATE = `mutation($input: UpdateLiveGoalInput!) {
  updateLiveGoal(input: $input) { goal { id title targetCoins progressCoins giftId status gift { id name } } userErrors { code field message } }
}`;
const GIFT = `mutation($input: CreateGiftInput!) { createGift(input: $input) { gift { id } userErrors { code } } }`;
const RETIRE = `mutation($id: ID!) { retireGift(id: $id) { gift { id status } userErrors { code } } }`;

async function gql(query: string, variables: Record<string, unknown>, token: string) {
  const res = await stack.gql(query, variables, token);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data;
}

const goalRows = async (hostId: string) =>
  (await stack.subgraphs.earnings.dataSource.query(`SELECT id, gift_id, progress::int AS progress, target::int AS target FROM earnings.live_goals WHERE host_id = $1 ORDER BY created_at`, [hostId])) as {
    id: string;
    gift_id: string | null;
    progress: number;
    target: number;
  }[];

beforeAll(async () => {
  stack = await startStack("goalgifts");
  admin = await stack.token({ sub: "goal-admin", roles: ["viewer", "admin"] });
  const gifts = await catalogGifts(stack);
  rose = gifts.get("rose")!;
  perfume = gifts.get("perfume")!;
  luckyCat = gifts.get("lucky-cat")!;
});
afterAll(async () => {
  await stack?.stop();
});

describe("a goal's gift is checked against the catalog (its owner read)", () => {
  it("createLiveGoal refuses an unknown or retired gift with GIFT_NOT_AVAILABLE and creates nothing; an active gift, even one sold only in other regions, is accepted", async () => {
    const session = await goLive(stack, "gg-host-1");
    const host = await hostToken(stack, "gg-host-1");
    const requestsBefore = stack.subgraphs.earnings.services.catalog.stats.requests;

    const unknown = (await gql(CREATE, { input: { liveSessionId: session, title: "Ghost", targetCoins: 5, giftId: randomUUID() } }, host)).createLiveGoal;
    expect(unknown).toMatchObject({ goal: null, userErrors: [{ code: "GIFT_NOT_AVAILABLE", field: ["input", "giftId"], message: "no such gift" }] });

    const created = (await gql(GIFT, { input: { slug: "goal-retiree", name: "Retiree", description: "soon gone", coinCost: 3, category: "BASIC", imageUrl: "rose.png" } }, admin)).createGift;
    expect(created.userErrors).toEqual([]);
    expect((await gql(RETIRE, { id: created.gift.id }, admin)).retireGift.gift.status).toBe("RETIRED");
    const retired = (await gql(CREATE, { input: { liveSessionId: session, title: "Old gift", targetCoins: 5, giftId: created.gift.id } }, host)).createLiveGoal;
    expect(retired).toMatchObject({ goal: null, userErrors: [{ code: "GIFT_NOT_AVAILABLE", field: ["input", "giftId"], message: "this gift has been retired" }] });
    expect(await goalRows("gg-host-1")).toEqual([]);

    // The host's token says US; Lucky Cat is sold in JP, TW, HK and SG: viewers there can still send it.
    const regional = (await gql(CREATE, { input: { liveSessionId: session, title: "Cats", targetCoins: 5, giftId: luckyCat.id } }, host)).createLiveGoal;
    expect(regional).toMatchObject({ goal: { giftId: luckyCat.id, status: "ACTIVE" }, userErrors: [] });
    const ok = (await gql(CREATE, { input: { liveSessionId: session, title: "Roses", targetCoins: 5, giftId: rose.id.toUpperCase() } }, host)).createLiveGoal;
    expect(ok).toMatchObject({ goal: { giftId: rose.id, status: "ACTIVE" }, userErrors: [] });
    expect((await goalRows("gg-host-1")).map((g) => g.gift_id)).toEqual([luckyCat.id, rose.id]);
    // Asked over HTTP through the catalog's client (the earnings subgraph has no catalog tables to read).
    expect(stack.subgraphs.earnings.services.catalog.stats.requests).toBeGreaterThan(requestsBefore);
  });

  it("updateLiveGoal with a giftId checks it too, and recounts the progress in the new unit from the gifts sent since the goal began", async () => {
    const session = await goLive(stack, "gg-host-2");
    const host = await hostToken(stack, "gg-host-2");
    await fund(stack, "gg-v2", 1000);
    const viewer = await viewerToken(stack, "gg-v2");
    const { goal } = (await gql(CREATE, { input: { liveSessionId: session, title: "Coins", targetCoins: 1000 } }, host)).createLiveGoal;
    const before = await credited(stack);
    await send(stack, viewer, { giftId: perfume.id, hostId: "gg-host-2", liveSessionId: session, idempotencyKey: key() });
    await send(stack, viewer, { giftId: rose.id, hostId: "gg-host-2", liveSessionId: session, quantity: 3, idempotencyKey: key() });
    await eventually(async () => expect(await credited(stack)).toBe(before + 2));
    expect((await goalRows("gg-host-2"))[0].progress).toBe(perfume.coinCost + 3 * rose.coinCost);

    const unknown = (await gql(UPDATE, { input: { goalId: goal.id, giftId: randomUUID(), title: "Nope" } }, host)).updateLiveGoal;
    expect(unknown.userErrors).toMatchObject([{ code: "GIFT_NOT_AVAILABLE", field: ["input", "giftId"] }]);
    // The new unit's progress (3 roses) must stay below the target: an edit never reaches a goal.
    const reaching = (await gql(UPDATE, { input: { goalId: goal.id, giftId: rose.id, targetCoins: 3 } }, host)).updateLiveGoal;
    expect(reaching.userErrors).toMatchObject([{ code: "INVALID_INPUT", field: ["input", "targetCoins"] }]);
    expect((await goalRows("gg-host-2"))[0]).toMatchObject({ gift_id: null, progress: perfume.coinCost + 3 * rose.coinCost, target: 1000 });

    const switched = (await gql(UPDATE, { input: { goalId: goal.id, giftId: rose.id, targetCoins: 10, title: "10 roses" } }, host)).updateLiveGoal;
    expect(switched).toMatchObject({ goal: { title: "10 roses", targetCoins: 10, progressCoins: 3, giftId: rose.id, status: "ACTIVE", gift: { name: "Rose" } }, userErrors: [] });
    await send(stack, viewer, { giftId: perfume.id, hostId: "gg-host-2", liveSessionId: session, idempotencyKey: key() });
    await send(stack, viewer, { giftId: rose.id, hostId: "gg-host-2", liveSessionId: session, quantity: 2, idempotencyKey: key() });
    await eventually(async () => expect((await goalRows("gg-host-2"))[0].progress).toBe(5));
  });

  it("a gift switch racing concurrent sends counts every gift exactly once, in the new unit", async () => {
    const session = await goLive(stack, "gg-host-3");
    const host = await hostToken(stack, "gg-host-3");
    const { goal } = (await gql(CREATE, { input: { liveSessionId: session, title: "Coins", targetCoins: 100_000 } }, host)).createLiveGoal;
    const viewers = Array.from({ length: 10 }, (_, i) => `gg-race-${i}`);
    await Promise.all(viewers.map((v) => fund(stack, v, 50)));
    const tokens = await Promise.all(viewers.map((v) => viewerToken(stack, v)));
    const before = await credited(stack);
    // 10 × 2 roses and 10 perfumes in flight while the host switches the goal to roses.
    const sends = tokens.flatMap((t) => [
      send(stack, t, { giftId: rose.id, hostId: "gg-host-3", liveSessionId: session, quantity: 2, idempotencyKey: key() }),
      send(stack, t, { giftId: perfume.id, hostId: "gg-host-3", liveSessionId: session, idempotencyKey: key() }),
    ]);
    const switched = gql(UPDATE, { input: { goalId: goal.id, giftId: rose.id, targetCoins: 1000 } }, host);
    const results = await Promise.all(sends);
    expect(results.every((r) => r.userErrors.length === 0)).toBe(true);
    expect((await switched).updateLiveGoal.userErrors).toEqual([]);
    await eventually(async () => expect(await credited(stack)).toBe(before + 20));
    expect((await goalRows("gg-host-3"))[0]).toMatchObject({ gift_id: rose.id, progress: 20, target: 1000 });
  });
});
