import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/eventually.js";
import { post, startStack, type Stack } from "../support/stack.js";
import { catalogGifts, fund, key, sendGift, viewerToken, type CatalogGift } from "../gifting/support.js";
import { gift, produce } from "./support.js";

let stack: Stack;
let gifts: Map<string, CatalogGift>;

beforeAll(async () => {
  stack = await startStack("earngraph");
  gifts = await catalogGifts(stack);
});
afterAll(async () => {
  await stack?.stop();
});

const hostToken = (sub: string, extra: { adult?: boolean } = {}) => stack.token({ sub, name: `Host ${sub}`, roles: ["viewer", "host"], adult: extra.adult ?? true });
const adminToken = () => stack.token({ sub: "ops-admin", name: "Ops", roles: ["viewer", "admin"] });

const START = `mutation($t: String!) { startLiveSession(input: { title: $t }) { liveSession { id status title startedAt endedAt host { id } } userErrors { code message } } }`;
const END = `mutation($id: ID!) { endLiveSession(input: { id: $id }) { liveSession { id status endedAt } userErrors { code } } }`;
const PAYOUT = `mutation($d: Int!, $k: String!) { requestPayout(input: { diamonds: $d, idempotencyKey: $k }) { payout { id diamonds amountMinor currency amount { amountMinor currency formatted } status } userErrors { code message balance shortfall } } }`;

/** Waits until the consumer (running in the earnings subgraph) has credited `sends` gift events to the host; the contract is "shortly after". */
async function credited(hostId: string, sends: number): Promise<void> {
  await eventually(async () => {
    const [row] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n FROM earnings.gift_credits WHERE host_id = $1`, [hostId]);
    if (row.n !== sends) throw new Error(`host ${hostId}: ${row.n} gifts credited, expected ${sends}`);
  }, 15_000);
}

describe("live sessions through the gateway", () => {
  it("a host goes live, cannot go live twice (ALREADY_LIVE), and ends the session", async () => {
    const token = await hostToken("g-host-1");
    const first = await stack.gql(START, { t: "Morning show" }, token);
    expect(first.errors).toBeUndefined();
    const s = first.data.startLiveSession.liveSession;
    expect(s).toMatchObject({ status: "LIVE", title: "Morning show", endedAt: null, host: { id: "g-host-1" } });

    const second = await stack.gql(START, { t: "Again" }, token);
    expect(second.data.startLiveSession).toMatchObject({ liveSession: null, userErrors: [{ code: "ALREADY_LIVE" }] });

    const ended = await stack.gql(END, { id: s.id }, token);
    expect(ended.data.endLiveSession.liveSession).toMatchObject({ id: s.id, status: "ENDED" });
    expect(ended.data.endLiveSession.liveSession.endedAt).not.toBeNull();
    // Retrying the end is harmless.
    const again = await stack.gql(END, { id: s.id }, token);
    expect(again.data.endLiveSession).toMatchObject({ liveSession: { status: "ENDED" }, userErrors: [] });
  });

  it("of many concurrent startLiveSession calls exactly one succeeds", async () => {
    const token = await hostToken("g-host-race");
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => stack.gql(START, { t: `race ${i}` }, token)));
    const codes = results.map((r) => r.data.startLiveSession.userErrors[0]?.code ?? "OK").sort();
    expect(codes).toEqual(["ALREADY_LIVE", "ALREADY_LIVE", "ALREADY_LIVE", "ALREADY_LIVE", "ALREADY_LIVE", "ALREADY_LIVE", "ALREADY_LIVE", "OK"]);
  });

  it("refuses viewers without the host role (FORBIDDEN), anonymous callers (UNAUTHENTICATED) and bad titles (BAD_USER_INPUT)", async () => {
    const viewer = await viewerToken(stack, "g-viewer");
    expect((await stack.gql(START, { t: "x" }, viewer)).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    expect((await stack.gql(START, { t: "x" })).errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    const res = await stack.gql(START, { t: "   " }, await hostToken("g-host-2"));
    expect(res.status).toBe(200);
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });

  it("another host's session cannot be ended by you (NOT_FOUND, it stays live)", async () => {
    const owner = await hostToken("g-host-owner");
    const s = (await stack.gql(START, { t: "mine" }, owner)).data.startLiveSession.liveSession;
    const res = await stack.gql(END, { id: s.id }, await hostToken("g-host-intruder"));
    expect(res.data.endLiveSession.userErrors).toEqual([{ code: "NOT_FOUND" }]);
    const creator = await stack.gql(`{ creator(id: "g-host-owner") { currentLiveSession { id status } } }`);
    expect(creator.data.creator.currentLiveSession).toEqual({ id: s.id, status: "LIVE" });
  });
});

describe("earnings from sendGift, end to end through the gateway", () => {
  it("gifts sent over HTTP become the host's diamonds, session totals and leaderboard", async () => {
    const hostId = "g-earner";
    const host = await hostToken(hostId);
    const session = (await stack.gql(START, { t: "earning" }, host)).data.startLiveSession.liveSession;
    const corgi = gifts.get("corgi")!; // 299 coins
    const rose = gifts.get("rose")!; // 1 coin
    await fund(stack, "g-fan-a", 10_000);
    await fund(stack, "g-fan-b", 10_000);
    const fanA = await viewerToken(stack, "g-fan-a");
    const fanB = await viewerToken(stack, "g-fan-b");
    const sends = [
      { token: fanA, giftId: corgi.id, quantity: 3 }, // 897 coins: 448.5
      { token: fanB, giftId: rose.id, quantity: 5 }, // 5 coins: 2.5
      { token: fanB, giftId: corgi.id, quantity: 1 }, // 299: 149.5
      { token: fanB, giftId: rose.id, quantity: 1 }, // 1: 0.5
    ]; // 1,202 coins → 601 diamonds: the halves are carried, not lost per gift (that paid 599)
    for (const s of sends) {
      const { payload } = await sendGift(stack, s.token, { giftId: s.giftId, hostId, liveSessionId: session.id, quantity: s.quantity, idempotencyKey: key() });
      expect(payload?.userErrors).toEqual([]);
    }
    await credited(hostId, sends.length);

    const res = await stack.gql(
      `query($id: ID!) { creator(id: $id) {
          diamonds lifetimeDiamonds giftsReceived
          topGifters(period: LIVE_SESSION) { rank sender { id } coins gifts }
          allTime: topGifters(period: ALL_TIME, first: 1) { rank sender { id } coins }
          currentLiveSession { giftCount coinsReceived diamondsEarned uniqueGifters topGifters(first: 5) { rank sender { id } coins } }
        } }`,
      { id: hostId },
      host,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data.creator).toEqual({
      diamonds: 601,
      lifetimeDiamonds: 601,
      giftsReceived: 10,
      topGifters: [
        { rank: 1, sender: { id: "g-fan-a" }, coins: 897, gifts: 3 },
        { rank: 2, sender: { id: "g-fan-b" }, coins: 305, gifts: 7 },
      ],
      allTime: [{ rank: 1, sender: { id: "g-fan-a" }, coins: 897 }],
      currentLiveSession: {
        giftCount: 10,
        coinsReceived: 1202,
        diamondsEarned: 601,
        uniqueGifters: 2,
        topGifters: [
          { rank: 1, sender: { id: "g-fan-a" }, coins: 897 },
          { rank: 2, sender: { id: "g-fan-b" }, coins: 305 },
        ],
      },
    });
  });

  it("a sender with coins for exactly 20 gifts sends 50 in parallel: exactly 20 are credited, once each", async () => {
    const hostId = "g-race-host";
    const session = (await stack.gql(START, { t: "race" }, await hostToken(hostId))).data.startLiveSession.liveSession;
    const corgi = gifts.get("corgi")!;
    await fund(stack, "g-racer", corgi.coinCost * 20);
    const racer = await viewerToken(stack, "g-racer");
    const results = await Promise.all(
      Array.from({ length: 50 }, () => sendGift(stack, racer, { giftId: corgi.id, hostId, liveSessionId: session.id, idempotencyKey: key() })),
    );
    const ok = results.filter((r) => r.payload?.giftEvent);
    expect(ok).toHaveLength(20);
    await credited(hostId, 20);
    // Retries of one send (10 at once) are one debit and one credit.
    await fund(stack, "g-racer", corgi.coinCost);
    const k = key();
    await Promise.all(Array.from({ length: 10 }, () => sendGift(stack, racer, { giftId: corgi.id, hostId, idempotencyKey: k })));
    await credited(hostId, 21);
    const res = await stack.gql(`{ creator(id: "g-race-host") { diamonds giftsReceived currentLiveSession { giftCount uniqueGifters } } }`, {}, await hostToken(hostId));
    expect(res.data.creator).toEqual({ diamonds: Math.floor((21 * corgi.coinCost) / 2), giftsReceived: 21, currentLiveSession: { giftCount: 20, uniqueGifters: 1 } });
  });

  it("a host's diamonds are theirs: other viewers get FORBIDDEN, the public totals stay readable", async () => {
    const res = await stack.gql(`{ creator(id: "g-earner") { lifetimeDiamonds diamonds } }`, {}, await viewerToken(stack, "g-nosy"));
    expect(res.data.creator.lifetimeDiamonds).toBe(601);
    expect(res.data.creator.diamonds).toBeNull();
    expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const admin = await stack.gql(`{ creator(id: "g-earner") { diamonds } }`, {}, await adminToken());
    expect(admin.data.creator.diamonds).toBe(601);
  });
});

describe("payouts through the gateway", () => {
  it("requestPayout below the minimum is a userError; a viewer without the host role is FORBIDDEN", async () => {
    const host = await hostToken("g-payee");
    const below = await stack.gql(PAYOUT, { d: 5000, k: key() }, host);
    expect(below.data.requestPayout).toMatchObject({ payout: null, userErrors: [{ code: "BELOW_MINIMUM" }] });
    const viewer = await stack.gql(PAYOUT, { d: 10_000, k: key() }, await viewerToken(stack, "g-viewer-2"));
    expect(viewer.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("a host cashes out, an operator processes it, and the host sees it PAID in their payouts", async () => {
    const host = await hostToken("g-payee");
    await produce(stack.subgraphs.earnings.dataSource, [gift({ hostId: "g-payee", unitCost: 30_000 })]);
    await credited("g-payee", 1);
    const over = await stack.gql(PAYOUT, { d: 20_000, k: key() }, host);
    expect(over.data.requestPayout.userErrors).toEqual([{ code: "INSUFFICIENT_DIAMONDS", message: expect.any(String), balance: 15_000, shortfall: 5_000 }]);

    const k = key();
    const requested = await stack.gql(PAYOUT, { d: 10_000, k }, host);
    expect(requested.data.requestPayout.payout).toMatchObject({
      diamonds: 10_000,
      amountMinor: 5000,
      currency: "USD",
      amount: { amountMinor: 5000, currency: "USD", formatted: "$50" },
      status: "REQUESTED",
    });
    const retried = await stack.gql(PAYOUT, { d: 10_000, k }, host);
    expect(retried.data.requestPayout.payout.id).toBe(requested.data.requestPayout.payout.id);

    // Only admins advance payouts.
    expect((await stack.gql(`mutation { processPayouts { payouts { id } } }`, {}, host)).errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const processed = await stack.gql(`mutation { processPayouts(input: { limit: 10 }) { payouts { id status } userErrors { code } } }`, {}, await adminToken());
    expect(processed.data.processPayouts.payouts).toContainEqual({ id: requested.data.requestPayout.payout.id, status: "PAID" });

    const mine = await stack.gql(`{ creator(id: "g-payee") { diamonds payouts(first: 5) { nodes { id status } hasNextPage } } }`, {}, host);
    expect(mine.data.creator).toEqual({ diamonds: 5_000, payouts: { nodes: [{ id: requested.data.requestPayout.payout.id, status: "PAID" }], hasNextPage: false } });
    const others = await stack.gql(`{ creator(id: "g-payee") { payouts { nodes { id } } } }`, {}, await hostToken("g-someone"));
    expect(others.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("an admin sets a revenue share override that applies to gifts sent from then on", async () => {
    await hostToken("g-share-host");
    await stack.subgraphs.earnings.dataSource.query(`INSERT INTO earnings.creators (id, display_name) VALUES ('g-share-host', 'Share') ON CONFLICT DO NOTHING`);
    const set = await stack.gql(
      `mutation { setRevenueShare(input: { creatorId: "g-share-host", shareBps: 8000, reason: "partner program" }) { history { shareBps setBy reason } userErrors { code } } }`,
      {},
      await adminToken(),
    );
    expect(set.data.setRevenueShare).toEqual({ history: [{ shareBps: 8000, setBy: "ops-admin", reason: "partner program" }], userErrors: [] });
    const past = await stack.gql(
      `mutation { setRevenueShare(input: { creatorId: "g-share-host", shareBps: 9000, effectiveFrom: "2020-01-01T00:00:00Z" }) { userErrors { code } } }`,
      {},
      await adminToken(),
    );
    expect(past.data.setRevenueShare.userErrors).toEqual([{ code: "INVALID_INPUT" }]);
    await produce(stack.subgraphs.earnings.dataSource, [gift({ hostId: "g-share-host", unitCost: 101 })]);
    await credited("g-share-host", 1);
    const me = await stack.gql(`{ creator(id: "g-share-host") { revenueShareBps } }`, {}, await hostToken("g-share-host"));
    expect(me.data.creator.revenueShareBps).toBe(8000);
  });
});

describe("batching", () => {
  it("resolves 25 Creator references with their totals and leaderboards with one SQL query per DataLoader", async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `g-batch-${i}`);
    await produce(stack.subgraphs.earnings.dataSource, ids.map((hostId, i) => gift({ hostId, senderId: `g-fan-${i % 3}`, unitCost: 10 + i })));
    for (const id of ids) await credited(id, 1);
    const reps = ids.map((id) => ({ __typename: "Creator", id }));
    const q = stack.subgraphs.earnings.queries;
    q.reset();
    const res = await post(
      stack.subgraphs.earnings.url,
      `query($r: [_Any!]!) { _entities(representations: $r) { ... on Creator { id lifetimeDiamonds giftsReceived topGifters(period: ALL_TIME, first: 3) { rank coins } } } }`,
      { r: reps },
      { service: "earnings" },
    );
    expect(res.errors).toBeUndefined();
    expect(res.data._entities).toHaveLength(25);
    expect(res.data._entities[24]).toEqual({ id: "g-batch-24", lifetimeDiamonds: 17, giftsReceived: 1, topGifters: [{ rank: 1, coins: 34 }] });
    // The consumer shares this DataSource and polls in the background: count only what the request ran.
    const creatorReads = q.queries.filter((sql) => /FROM "earnings"\."creators"/.test(sql));
    const leaderboardReads = q.queries.filter((sql) => /FROM earnings\.gifter_totals/.test(sql));
    expect([creatorReads.length, leaderboardReads.length]).toEqual([1, 1]);
  });
});

describe("owner reads stay internal", () => {
  it("hostForGifting is not part of the public graph", async () => {
    const res = await stack.gql(`{ hostForGifting(hostId: "g-earner") { id } }`);
    expect(res.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
  });
});
