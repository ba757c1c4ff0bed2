import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credited, endLive, eventually, fund, goLive, hostToken, key, send, streamEvents, viewerToken } from "./support.js";

let stack: Stack;
let rose: { id: string; coinCost: number };
let perfume: { id: string; coinCost: number };

const CREATE = `mutation($input: CreateLiveGoalInput!) {
  createLiveGoal(input: $input) { goal { id title targetCoins progressCoins giftId reachedAt endsAt status createdAt } userErrors { code field message } }
}`;
const UPDATE = `mutation($input: UpdateLiveGoalInput!) { updateLiveGoal(input: $input) { goal { id title targetCoins status } userErrors { code field } } }`;
const CANCEL = `mutation($input: CancelLiveGoalInput!) { cancelLiveGoal(input: $input) { goal { id status } userErrors { code field } } }`;
const GOALS = `query($id: ID!) { creator(id: $id) { liveSessions(first: 5) { nodes { id goals { id title targetCoins progressCoins giftId reachedAt status gift { id name } } } } } }`;
const ROOM = `subscription($id: ID!, $after: String) { liveGiftFeed(liveSessionId: $id, after: $after) { id coins goalProgress { goalId title progressCoins targetCoins reached } } }`;
const HOST = `subscription($h: ID!, $after: String) { giftReceived(hostId: $h, after: $after) { id coins goalProgress { goalId progressCoins reached } } }`;

async function create(token: string, input: Record<string, unknown>) {
  const res = await stack.gql(CREATE, { input }, token);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.createLiveGoal;
}

async function goalsOf(hostId: string, sessionId: string) {
  const res = await stack.gql(GOALS, { id: hostId });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.creator.liveSessions.nodes.find((s: any) => s.id === sessionId).goals as any[];
}

beforeAll(async () => {
  stack = await startStack("goals");
  const gifts = await catalogGifts(stack);
  rose = gifts.get("rose")!;
  perfume = gifts.get("perfume")!;
});
afterAll(async () => {
  await stack?.stop();
});

describe("LIVE goals", () => {
  it("a host creates a goal in their live session; progress is the exact sum of coins sent after it, and the room feed and host stream carry it", async () => {
    const session = await goLive(stack, "goal-host-1");
    const host = await hostToken(stack, "goal-host-1");
    await fund(stack, "goal-v1", 1000);
    const viewer = await viewerToken(stack, "goal-v1");
    // Sent before the goal exists: does not count.
    expect((await send(stack, viewer, { giftId: perfume.id, hostId: "goal-host-1", liveSessionId: session, idempotencyKey: key() })).userErrors).toEqual([]);
    await eventually(async () => expect(await credited(stack)).toBeGreaterThanOrEqual(1));
    const { goal, userErrors } = await create(host, { liveSessionId: session, title: "Next song", targetCoins: 200 });
    expect(userErrors).toEqual([]);
    expect(goal).toMatchObject({ title: "Next song", targetCoins: 200, progressCoins: 0, giftId: null, reachedAt: null, endsAt: null, status: "ACTIVE" });
    for (let i = 0; i < 3; i++) {
      expect((await send(stack, viewer, { giftId: perfume.id, hostId: "goal-host-1", liveSessionId: session, quantity: 2, idempotencyKey: key() })).userErrors).toEqual([]);
    }
    const [g] = await eventually(async () => {
      const goals = await goalsOf("goal-host-1", session);
      expect(goals[0].progressCoins).toBe(3 * 2 * perfume.coinCost);
      return goals;
    });
    expect(g).toMatchObject({ id: goal.id, status: "ACTIVE", reachedAt: null });
    const viewerFeed = await streamEvents(stack, viewer, ROOM, { id: session }, 4);
    expect(viewerFeed[0].goalProgress).toEqual([]);
    expect(viewerFeed.slice(1).map((e) => e.goalProgress)).toEqual([1, 2, 3].map((i) => [{ goalId: goal.id, title: "Next song", progressCoins: i * 40, targetCoins: 200, reached: false }]));
    const hostStream = await streamEvents(stack, host, HOST, { h: "goal-host-1" }, 4);
    expect(hostStream.map((e) => e.goalProgress[0]?.progressCoins ?? null)).toEqual([null, 40, 80, 120]);
  });

  it("reachedAt is set exactly once when concurrent sends cross the target, and exactly one stream event says reached", async () => {
    const session = await goLive(stack, "goal-host-2");
    const host = await hostToken(stack, "goal-host-2");
    const { goal } = await create(host, { liveSessionId: session, title: "Dance", targetCoins: 200 });
    const viewers = Array.from({ length: 12 }, (_, i) => `goal-race-${i}`);
    await Promise.all(viewers.map((v) => fund(stack, v, 100)));
    const tokens = await Promise.all(viewers.map((v) => viewerToken(stack, v)));
    // 12 × 2 perfumes × 20 coins = 480 coins, all at once: several batches, several could "cross".
    const results = await Promise.all(tokens.map((t) => send(stack, t, { giftId: perfume.id, hostId: "goal-host-2", liveSessionId: session, quantity: 2, idempotencyKey: key() })));
    expect(results.every((r) => r.userErrors.length === 0)).toBe(true);
    const [g] = await eventually(async () => {
      const goals = await goalsOf("goal-host-2", session);
      expect(goals[0].progressCoins).toBe(480);
      return goals;
    });
    expect(g.status).toBe("REACHED");
    expect(g.reachedAt).not.toBeNull();
    const events = await streamEvents(stack, host, HOST, { h: "goal-host-2" }, 12);
    const reached = events.filter((e) => e.goalProgress.some((p: any) => p.reached));
    expect(reached).toHaveLength(1);
    // Progress on the stream is cumulative in stream order and crosses 200 exactly on the reached event.
    const progress = events.map((e) => e.goalProgress[0].progressCoins);
    expect(progress).toEqual(progress.map((_, i) => (i + 1) * 40));
    expect(reached[0].goalProgress[0].progressCoins).toBe(200);
    const [{ n, reached_at }] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n, max(reached_at) AS reached_at FROM earnings.live_goals WHERE id = $1 AND reached_at IS NOT NULL`, [goal.id]);
    expect(n).toBe(1);
    expect(new Date(reached_at).toISOString()).toBe(g.reachedAt);
  });

  it("a gift goal counts only that gift, by quantity", async () => {
    const session = await goLive(stack, "goal-host-3");
    const host = await hostToken(stack, "goal-host-3");
    const { goal } = await create(host, { liveSessionId: session, title: "10 roses", targetCoins: 10, giftId: rose.id });
    expect(goal.giftId).toBe(rose.id);
    await fund(stack, "goal-v3", 1000);
    const viewer = await viewerToken(stack, "goal-v3");
    await send(stack, viewer, { giftId: perfume.id, hostId: "goal-host-3", liveSessionId: session, idempotencyKey: key() });
    await send(stack, viewer, { giftId: rose.id, hostId: "goal-host-3", liveSessionId: session, quantity: 7, idempotencyKey: key() });
    await send(stack, viewer, { giftId: rose.id, hostId: "goal-host-3", liveSessionId: session, quantity: 5, idempotencyKey: key() });
    const [g] = await eventually(async () => {
      const goals = await goalsOf("goal-host-3", session);
      expect(goals[0].progressCoins).toBe(12);
      return goals;
    });
    expect(g).toMatchObject({ status: "REACHED", gift: { id: rose.id, name: "Rose" } });
  });

  it("edits keep the target above the progress, cancel stops counting, and only the host may manage goals", async () => {
    const session = await goLive(stack, "goal-host-4");
    const host = await hostToken(stack, "goal-host-4");
    const other = await hostToken(stack, "goal-host-other");
    const { goal } = await create(host, { liveSessionId: session, title: "First", targetCoins: 1000 });
    expect((await create(other, { liveSessionId: session, title: "Mine", targetCoins: 10 })).userErrors[0].code).toBe("NOT_FOUND");
    expect((await stack.gql(UPDATE, { input: { goalId: goal.id, title: "Hijack" } }, other)).data.updateLiveGoal.userErrors[0].code).toBe("NOT_FOUND");
    await fund(stack, "goal-v4", 1000);
    const viewer = await viewerToken(stack, "goal-v4");
    await send(stack, viewer, { giftId: perfume.id, hostId: "goal-host-4", liveSessionId: session, quantity: 5, idempotencyKey: key() });
    await eventually(async () => expect((await goalsOf("goal-host-4", session))[0].progressCoins).toBe(100));
    expect((await stack.gql(UPDATE, { input: { goalId: goal.id, targetCoins: 100 } }, host)).data.updateLiveGoal.userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "targetCoins"] });
    expect((await stack.gql(UPDATE, { input: { goalId: goal.id, targetCoins: 500, title: "Renamed" } }, host)).data.updateLiveGoal).toMatchObject({ goal: { title: "Renamed", targetCoins: 500, status: "ACTIVE" }, userErrors: [] });
    expect((await stack.gql(CANCEL, { input: { goalId: goal.id } }, host)).data.cancelLiveGoal).toMatchObject({ goal: { status: "CANCELED" }, userErrors: [] });
    expect((await stack.gql(CANCEL, { input: { goalId: goal.id } }, host)).data.cancelLiveGoal).toMatchObject({ goal: { status: "CANCELED" }, userErrors: [] });
    expect((await stack.gql(UPDATE, { input: { goalId: goal.id, title: "Again" } }, host)).data.updateLiveGoal.userErrors[0].code).toBe("INVALID_STATE");
    const before = await credited(stack);
    await send(stack, viewer, { giftId: perfume.id, hostId: "goal-host-4", liveSessionId: session, idempotencyKey: key() });
    await eventually(async () => expect(await credited(stack)).toBe(before + 1));
    expect((await goalsOf("goal-host-4", session))[0]).toMatchObject({ progressCoins: 100, status: "CANCELED" });
  });

  it("refuses bad goals with typed errors: over the open-goal cap, bad targets and ends, ended sessions", async () => {
    const session = await goLive(stack, "goal-host-5");
    const host = await hostToken(stack, "goal-host-5");
    for (let i = 0; i < 3; i++) expect((await create(host, { liveSessionId: session, title: `G${i}`, targetCoins: 10 })).userErrors).toEqual([]);
    expect((await create(host, { liveSessionId: session, title: "G4", targetCoins: 10 })).userErrors[0].code).toBe("LIMIT_EXCEEDED");
    expect((await create(host, { liveSessionId: session, title: "T", targetCoins: 0 })).userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "targetCoins"] });
    const past = new Date(Date.now() - 60_000).toISOString();
    expect((await create(host, { liveSessionId: session, title: "T", targetCoins: 5, endsAt: past })).userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "endsAt"] });
    const empty = await stack.gql(CREATE, { input: { liveSessionId: session, title: "   ", targetCoins: 5 } }, host);
    expect(empty.errors[0].extensions.code).toBe("BAD_USER_INPUT");
    const viewer = await viewerToken(stack, "goal-v5");
    expect((await stack.gql(CREATE, { input: { liveSessionId: session, title: "x", targetCoins: 5 } }, viewer)).errors[0].extensions.code).toBe("FORBIDDEN");
    await endLive(stack, "goal-host-5", session);
    const goals = await goalsOf("goal-host-5", session);
    expect(goals.map((g) => g.status)).toEqual(["ENDED", "ENDED", "ENDED"]);
    expect((await create(host, { liveSessionId: session, title: "late", targetCoins: 5 })).userErrors[0].code).toBe("SESSION_NOT_LIVE");
    const [{ n }] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n FROM earnings.live_goals WHERE host_id = 'goal-host-5'`);
    expect(n).toBe(3);
  });
});
