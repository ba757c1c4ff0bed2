import "reflect-metadata";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../../gateway/index.js";
import { PartnerKeyStore } from "../../gateway/partner/keys.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, opened, until } from "../stream/helpers.js";

/**
 * The public live gift feed for partners: graphql-ws on /partner/graphql, API key in
 * connection_init, planned against the partner contract.
 */
let stack: Stack;
let gateway: RunningGateway;
let store: PartnerKeyStore;
let wsUrl: string;
let gifts: { id: string; name: string }[];

beforeAll(async () => {
  stack = await startStack("partnerfeed");
  gateway = await stack.startGateway({ databaseUrl: stack.databaseUrl, partnerRevalidateMs: 100 });
  wsUrl = gateway.url.replace(/^http/, "ws").replace(/\/graphql$/, "/partner/graphql");
  store = await PartnerKeyStore.open(stack.databaseUrl, { migrate: false, poolSize: 2 });
  gifts = await catalogGifts(stack);
});
afterAll(async () => {
  await store?.close();
  await gateway?.stop();
  await stack?.stop();
});

interface PartnerSub {
  events: any[];
  errors: any[];
  closed: { code: number; reason: string } | null;
  dispose(): Promise<void>;
}

function partnerSubscribe(params: Record<string, unknown>, query: string, variables: Record<string, unknown>, url = wsUrl): PartnerSub {
  const sub: PartnerSub = { events: [], errors: [], closed: null, dispose: async () => undefined };
  const client = createClient({ url, webSocketImpl: WebSocket, connectionParams: params, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined });
  client.on("closed", (ev) => {
    const e = ev as { code: number; reason: string };
    sub.closed ??= { code: e.code, reason: String(e.reason) };
  });
  const stop = client.subscribe(
    { query, variables },
    {
      next: (v) => (v.errors ? sub.errors.push(...v.errors) : sub.events.push(v.data)),
      error: (e) => {
        if (Array.isArray(e)) sub.errors.push(...e);
        else if (e && typeof (e as { code?: unknown }).code === "number") sub.closed ??= { code: (e as { code: number }).code, reason: String((e as { reason?: string }).reason) };
        else sub.errors.push({ message: String(e) });
      },
      complete: () => undefined,
    },
  );
  sub.dispose = async () => {
    stop();
    await client.dispose();
  };
  return sub;
}

const FEED = `subscription($liveSessionId: ID!) {
  liveGiftFeed(liveSessionId: $liveSessionId) { id cursor senderName quantity coins gift { name } host { id displayName } }
}`;

async function liveSession(hostId: string): Promise<string> {
  await makeHost(stack, hostId);
  const s = await stack.subgraphs.earnings.services.sessions.start({ id: hostId, name: hostId.toUpperCase(), roles: ["host"], region: "US", adult: true, exp: undefined }, "Partner show");
  return s.id;
}

describe("the public live gift feed for partners (graphql-ws on /partner/graphql)", () => {
  it("streams a room's gifts to a partner key, with the catalog's gift fields", async () => {
    const { key } = await store.create({ partner: "overlay-co", ratePerMinute: 600 });
    const session = await liveSession("host-p1");
    const sub = await opened(stack, () => partnerSubscribe({ "x-api-key": key }, FEED, { liveSessionId: session }));
    await credit(stack, [item({ hostId: "host-p1", giftId: gifts[0].id, liveSessionId: session, giftEventId: "partner-seen", senderName: "Fan" })]);
    await until(() => sub.events.length > 0 || sub.errors.length > 0 || sub.closed !== null, "a feed event");
    expect(sub.errors).toEqual([]);
    expect(sub.events[0].liveGiftFeed).toMatchObject({ id: "partner-seen", senderName: "Fan", quantity: 1, gift: { name: gifts[0].name }, host: { id: "host-p1" } });
    expect(typeof sub.events[0].liveGiftFeed.cursor).toBe("string");
    await sub.dispose();
  });

  it("refuses the host's diamonds on the feed as a validation error", async () => {
    const { key } = await store.create({ partner: "nosy-co", ratePerMinute: 600 });
    const session = await liveSession("host-p2");
    const sub = partnerSubscribe({ "x-api-key": key }, `subscription($id: ID!) { liveGiftFeed(liveSessionId: $id) { id diamonds } }`, { id: session });
    await until(() => sub.errors.length > 0 || sub.closed !== null, "the refusal");
    expect(sub.errors[0]?.message).toMatch(/Cannot query field "diamonds" on type "RoomGiftEvent"/);
    expect(sub.events).toEqual([]);
    await sub.dispose();
  });

  it("closes a connection without a valid key with 4401", async () => {
    for (const params of [{}, { "x-api-key": "gep_0000000000000000_" + "A".repeat(43) }]) {
      const sub = partnerSubscribe(params, FEED, { liveSessionId: "00000000-0000-4000-8000-000000000000" });
      await until(() => sub.closed !== null, "the close");
      expect(sub.closed?.code).toBe(4401);
      await sub.dispose();
    }
  });

  it("ends an open stream when its key is revoked", async () => {
    const { key, info } = await store.create({ partner: "revoked-co", ratePerMinute: 600 });
    const session = await liveSession("host-p3");
    const sub = await opened(stack, () => partnerSubscribe({ "x-api-key": key }, FEED, { liveSessionId: session }));
    await store.revoke({ keyId: info.keyId });
    await until(() => sub.closed !== null, "the revoked stream to close");
    expect(sub.closed).toMatchObject({ code: 4401, reason: expect.stringMatching(/revoked/) });
    await sub.dispose();
  });

  it("closes a connection over the key's rate limit with 4429 and a retry hint", async () => {
    // Burst 2: the first connection and its subscription spend both units.
    const { key } = await store.create({ partner: "eager-co", ratePerMinute: 1, burst: 2 });
    const session = await liveSession("host-p4");
    const first = await opened(stack, () => partnerSubscribe({ "x-api-key": key }, FEED, { liveSessionId: session }));
    const second = partnerSubscribe({ "x-api-key": key }, FEED, { liveSessionId: session });
    await until(() => second.closed !== null, "the limited connection to close");
    expect(second.closed?.code).toBe(4429);
    expect(second.closed?.reason).toMatch(/retry in \d+s/);
    expect(first.closed).toBeNull();
    await Promise.all([first.dispose(), second.dispose()]);
  });

  it("counts every subscription against the key's limit, so one connection cannot open unlimited streams", async () => {
    const { key } = await store.create({ partner: "greedy-co", ratePerMinute: 1, burst: 3 });
    const session = await liveSession("host-p5");
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { "x-api-key": key }, retryAttempts: 0 });
    const outcomes: string[] = [];
    const stops: (() => void)[] = [];
    for (let i = 0; i < 3; i++) {
      stops.push(
        client.subscribe({ query: FEED, variables: { liveSessionId: session } }, {
          next: () => undefined,
          error: (e) => outcomes.push(Array.isArray(e) ? String(e[0]?.extensions?.code) : "closed"),
          complete: () => undefined,
        }),
      );
    }
    await until(() => outcomes.length > 0, "a refused subscription");
    // connection 1 + two subscriptions = the burst of 3; the third subscription is refused.
    expect(outcomes).toEqual(["RATE_LIMITED"]);
    for (const stop of stops) stop();
    await client.dispose();
  });

  it("answers a WebSocket upgrade to an unknown path with 404", async () => {
    const url = gateway.url.replace(/^http/, "ws").replace(/\/graphql$/, "/nowhere");
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(url, "graphql-transport-ws");
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("error", () => resolve(-1));
    });
    expect(status).toBe(404);
  });
});
