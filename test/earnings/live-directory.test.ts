import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, opened, subscribe, user } from "../stream/helpers.js";

let stack: Stack;
/** host id → session id */
const sessions: Record<string, string> = {};

const LIST = `query($first: Int, $after: String, $region: String) {
  liveSessions(first: $first, after: $after, region: $region) {
    edges { cursor node { id title status region coinsReceived uniqueGifters host { id displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function goLive(hostId: string, region: string, coins: number, gifters: number): Promise<string> {
  const s = await stack.subgraphs.earnings.services.sessions.start({ ...user(hostId), region }, `${hostId}'s room`);
  // The credit consumer maintains these totals; set them directly to arrange an ordering.
  await stack.subgraphs.earnings.dataSource.query(`UPDATE earnings.live_sessions SET coins_received = $2, unique_gifters = $3 WHERE id = $1`, [s.id, coins, gifters]);
  sessions[hostId] = s.id;
  return s.id;
}

beforeAll(async () => {
  stack = await startStack("livedir");
  await goLive("h-big", "US", 900, 3);
  await goLive("h-tie-a", "US", 500, 2);
  await goLive("h-tie-b", "DE", 500, 2);
  await goLive("h-tie-c", "US", 500, 2);
  await goLive("h-crowd", "DE", 500, 7);
  await goLive("h-quiet", "US", 0, 0);
  const ended = await goLive("h-ended", "US", 10_000, 9);
  await stack.subgraphs.earnings.services.sessions.end(user("h-ended"), ended);
});
afterAll(async () => {
  await stack?.stop();
});

describe("Query.liveSessions (the live-now directory)", () => {
  it("lists only sessions live now, busiest first (coins in the session, then gifters), to anonymous callers", async () => {
    const r = await stack.gql(LIST, { first: 50 });
    expect(r.errors).toBeUndefined();
    const ids = r.data.liveSessions.edges.map((e: any) => e.node.host.id);
    expect(ids[0]).toBe("h-big");
    expect(ids[1]).toBe("h-crowd"); // same coins as the ties, more gifters
    expect(ids.slice(2, 5).sort()).toEqual(["h-tie-a", "h-tie-b", "h-tie-c"]);
    expect(ids[5]).toBe("h-quiet");
    expect(ids).not.toContain("h-ended");
    expect(r.data.liveSessions.edges[0].node).toMatchObject({ status: "LIVE", title: "h-big's room", coinsReceived: 900, host: { displayName: "H-BIG" } });
    expect(r.data.liveSessions.pageInfo.hasNextPage).toBe(false);
  });

  it("pages with cursors that are stable under ties: every session exactly once, in the same order as one page", async () => {
    const all = (await stack.gql(LIST, { first: 50 })).data.liveSessions.edges.map((e: any) => e.node.id);
    const paged: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 10; i++) {
      const r: any = await stack.gql(LIST, { first: 2, after });
      expect(r.errors).toBeUndefined();
      paged.push(...r.data.liveSessions.edges.map((e: any) => e.node.id));
      if (!r.data.liveSessions.pageInfo.hasNextPage) break;
      after = r.data.liveSessions.pageInfo.endCursor;
    }
    expect(paged).toEqual(all);
    expect(new Set(paged).size).toBe(paged.length);
  });

  it("filters by region", async () => {
    const r = await stack.gql(LIST, { region: "DE" });
    expect(r.data.liveSessions.edges.map((e: any) => e.node.host.id)).toEqual(["h-crowd", "h-tie-b"]);
    expect(r.data.liveSessions.edges.every((e: any) => e.node.region === "DE")).toBe(true);
  });

  it("bounds first to 1..50 and refuses a foreign cursor or region with BAD_USER_INPUT", async () => {
    for (const vars of [{ first: 51 }, { first: 0 }, { after: "bm90LWEtY3Vyc29y" }, { region: "usa" }]) {
      const r = await stack.gql(LIST, vars);
      expect(r.errors?.[0]?.extensions?.code, JSON.stringify(vars)).toBe("BAD_USER_INPUT");
    }
  });
});

describe("Query.liveSession(id)", () => {
  it("answers anyone with the room, live or ended, and null for an unknown id", async () => {
    const q = `query($id: ID!) { liveSession(id: $id) { id status title host { id } } }`;
    const live = await stack.gql(q, { id: sessions["h-big"] });
    expect(live.data.liveSession).toMatchObject({ status: "LIVE", host: { id: "h-big" } });
    expect((await stack.gql(q, { id: sessions["h-ended"] })).data.liveSession.status).toBe("ENDED");
    expect((await stack.gql(q, { id: "00000000-0000-4000-8000-000000000000" })).data.liveSession).toBeNull();
    expect((await stack.gql(q, { id: "not-a-uuid" })).data.liveSession).toBeNull();
  });
});

describe("anonymous viewers in a room", () => {
  it("follow a public room's liveGiftFeed over graphql-ws without any token", async () => {
    const [gift] = await catalogGifts(stack);
    const room = sessions["h-quiet"];
    const sub = await opened(stack, () =>
      subscribe(stack.gateway.url, null, `subscription($s: ID!) { liveGiftFeed(liveSessionId: $s) { id senderName gift { name } } }`, { s: room }),
    );
    await credit(stack, [item({ hostId: "h-quiet", giftId: gift.id, liveSessionId: room, giftEventId: "anon-seen" })]);
    const [e] = await sub.waitFor(1);
    expect(e.data.liveGiftFeed).toMatchObject({ id: "anon-seen", senderName: "Viewer One", gift: { name: gift.name } });
    expect(sub.closed).toBeNull();
    await sub.dispose();
  });
});
