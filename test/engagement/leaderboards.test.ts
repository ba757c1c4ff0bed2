import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gift, produce } from "../earnings/support.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credited, eventually, fund, goLive, key, send, viewerToken } from "./support.js";

let stack: Stack;
let perfume: { id: string; coinCost: number };

const BOARD = `query($id: ID!, $period: LeaderboardPeriod!, $at: DateTimeISO) { creator(id: $id) { topGifters(period: $period, at: $at) { rank sender { id } anonymous coins } } }`;
const RANK = `query($id: ID!, $u: ID!, $period: LeaderboardPeriod!, $at: DateTimeISO) { creator(id: $id) { gifterRank(userId: $u, period: $period, at: $at) } }`;
const RANKINGS = `query($period: LeaderboardPeriod!, $region: String) { creatorRankings(period: $period, region: $region) { rank diamonds creator { id displayName } } }`;

async function board(hostId: string, period: string, at?: string) {
  const res = await stack.gql(BOARD, { id: hostId, period, at }, undefined);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.creator.topGifters;
}

async function rank(hostId: string, userId: string, token?: string, period = "ALL_TIME", at?: string) {
  const res = await stack.gql(RANK, { id: hostId, u: userId, period, at }, token);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.creator.gifterRank;
}

beforeAll(async () => {
  stack = await startStack("boards");
  perfume = (await catalogGifts(stack)).get("perfume")!;
});
afterAll(async () => {
  await stack?.stop();
});

describe("leaderboards that remember", () => {
  it("last week's board reads the same after the week ended (explicit at), and this week's does not include it", async () => {
    await goLive(stack, "past-host");
    const now = new Date();
    const lastWeek = new Date(now.getTime() - 7 * 86_400_000);
    const before = await credited(stack);
    await produce(stack.subgraphs.earnings.dataSource, [
      gift({ hostId: "past-host", senderId: "old-a", coins: 300, unitCost: 300, sentAt: lastWeek.toISOString() }),
      gift({ hostId: "past-host", senderId: "old-b", coins: 100, unitCost: 100, sentAt: lastWeek.toISOString() }),
    ]);
    await eventually(async () => expect(await credited(stack)).toBe(before + 2));
    const expected = [
      { rank: 1, sender: { id: "old-a" }, anonymous: false, coins: 300 },
      { rank: 2, sender: { id: "old-b" }, anonymous: false, coins: 100 },
    ];
    expect(await board("past-host", "WEEK", lastWeek.toISOString())).toEqual(expected);
    expect(await board("past-host", "WEEK")).toEqual([]);
    // Gifts this week land on this week's board only.
    await fund(stack, "new-a", 1000);
    await send(stack, await viewerToken(stack, "new-a"), { giftId: perfume.id, hostId: "past-host", quantity: 30, idempotencyKey: key() });
    await eventually(async () => expect(await board("past-host", "WEEK")).toEqual([{ rank: 1, sender: { id: "new-a" }, anonymous: false, coins: 600 }]));
    expect(await board("past-host", "WEEK", lastWeek.toISOString())).toEqual(expected);
    expect(await rank("past-host", "old-b", undefined, "WEEK", lastWeek.toISOString())).toBe(2);
    expect(await rank("past-host", "old-b", undefined, "WEEK")).toBeNull();
    expect((await board("past-host", "ALL_TIME")).map((e: any) => e.sender.id)).toEqual(["new-a", "old-a", "old-b"]);
  });

  it("gifterRank says where a viewer stands (null when unranked); an anonymous entry counts only when the viewer asks about themselves", async () => {
    await goLive(stack, "rank-host");
    for (const [v, q] of [["r1", 5], ["r2", 3], ["r3", 1]] as const) {
      await fund(stack, v, 1000);
      await send(stack, await viewerToken(stack, v), { giftId: perfume.id, hostId: "rank-host", quantity: q, idempotencyKey: key() });
    }
    // r3 also sends anonymously, more than anyone: the anonymous entry is #1.
    await send(stack, await viewerToken(stack, "r3"), { giftId: perfume.id, hostId: "rank-host", quantity: 10, anonymous: true, idempotencyKey: key() });
    await eventually(async () => expect(await board("rank-host", "ALL_TIME")).toHaveLength(4));
    expect(await rank("rank-host", "r1")).toBe(2);
    expect(await rank("rank-host", "r2")).toBe(3);
    expect(await rank("rank-host", "r3")).toBe(4);
    expect(await rank("rank-host", "r3", await viewerToken(stack, "r3"))).toBe(1);
    expect(await rank("rank-host", "r3", await stack.token({ sub: "ops", roles: ["admin"] }))).toBe(1);
    expect(await rank("rank-host", "nobody")).toBeNull();
    expect((await board("rank-host", "ALL_TIME"))[0]).toEqual({ rank: 1, sender: null, anonymous: true, coins: 200 });
  });

  it("creatorRankings ranks creators platform-wide or per region by diamonds in the period", async () => {
    const de = await stack.token({ sub: "de-host", name: "DE Host", roles: ["viewer", "host"], adult: true, region: "DE" });
    const started = await stack.gql(`mutation { startLiveSession(input: { title: "hallo" }) { liveSession { id } } }`, {}, de);
    expect(started.errors).toBeUndefined();
    await fund(stack, "cr-v", 5000);
    const t = await viewerToken(stack, "cr-v");
    await send(stack, t, { giftId: perfume.id, hostId: "de-host", quantity: 50, idempotencyKey: key() });
    await eventually(async () => {
      const res = await stack.gql(RANKINGS, { period: "DAY", region: "DE" });
      expect(res.data.creatorRankings).toEqual([{ rank: 1, diamonds: 500, creator: { id: "de-host", displayName: "DE Host" } }]);
    });
    const all = (await stack.gql(RANKINGS, { period: "ALL_TIME" })).data.creatorRankings;
    // past-host: (300 + 100 + 600) / 2 = 500, de-host: 1000 / 2 = 500 (a tie: past-host got there first), rank-host: 19 × 20 / 2 = 190.
    expect(all.map((r: any) => [r.rank, r.creator.id, r.diamonds])).toEqual([[1, "past-host", 500], [2, "de-host", 500], [3, "rank-host", 190]]);
    expect((await stack.gql(RANKINGS, { period: "ALL_TIME", region: "US" })).data.creatorRankings.map((r: any) => r.creator.id)).toEqual(["past-host", "rank-host"]);
    expect((await stack.gql(RANKINGS, { period: "LIVE_SESSION" })).errors[0].extensions.code).toBe("BAD_USER_INPUT");
    expect((await stack.gql(RANKINGS, { period: "DAY", region: "usa" })).errors[0].extensions.code).toBe("BAD_USER_INPUT");
  });
});
