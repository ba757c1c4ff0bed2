import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../../gateway/index.js";
import { PartnerKeyStore } from "../../gateway/partner/keys.js";
import { WsCloseCode } from "../../platform/ws.js";
import { connectRaw, openRaw, subscribeRaw, type RawWs } from "../support/raw-ws.js";
import { testSigner } from "../support/http.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost } from "../stream/helpers.js";

/**
 * The bounds of every graphql-ws endpoint (platform/ws-socket-limits.ts): the gateway's /graphql, the
 * partner endpoint /partner/graphql, and the earnings subgraph's stream server, over real
 * sockets. `stack.gateway` runs the production defaults; `capped` is a second gateway with the
 * partner endpoint and small socket caps (and max depth 6, because the partner contract has no
 * type cycle deep enough for the default 12).
 */
let stack: Stack;
let capped: RunningGateway;
let store: PartnerKeyStore;
let partnerKey: string;
let hostToken: string;
let earningsParams: Record<string, unknown>;
const CAPS = { maxSocketsPerUser: 3, maxSocketsPerAddress: 8, initTimeoutMs: 30_000 };

beforeAll(async () => {
  stack = await startStack("wslimits");
  capped = await stack.startGateway({
    databaseUrl: stack.databaseUrl,
    ws: CAPS,
    limits: { maxDepth: 6 },
  });
  store = await PartnerKeyStore.open(stack.databaseUrl, { migrate: false, poolSize: 2 });
  partnerKey = (await store.create({ partner: "ws-limits-co", ratePerMinute: 100_000, burst: 100_000 })).key;
  await makeHost(stack, "wsl-host");
  hostToken = await stack.token({ sub: "wsl-host", roles: ["viewer", "host"] });
  // Earnings answers only signed callers (the gateway's service credential), carrying the viewer's token.
  earningsParams = await testSigner().connectionParams("earnings", { authorization: `Bearer ${hostToken}` });
}, 60_000);
afterAll(async () => {
  await store?.close();
  await capped?.stop();
  await stack?.stop();
});

const partnerUrl = () => capped.url.replace(/\/graphql$/, "/partner/graphql");
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
const health = async (url: string) => (await fetch(url.replace(/\/graphql$/, "/health"))).status;

/** The three WebSocket endpoints, each with a subscription field valid there and how to sign in (resolved once the stack runs). */
const ENDPOINTS = ["gateway /graphql", "partner /partner/graphql", "earnings stream server"] as const;
type Endpoint = { name: string; url: string; params: Record<string, unknown>; field: string };
function endpoint(name: (typeof ENDPOINTS)[number]): Endpoint {
  if (name === "gateway /graphql") return { name, url: stack.gateway.url, params: bearer(hostToken), field: `giftReceived(hostId: "wsl-host")` };
  if (name === "partner /partner/graphql") return { name, url: partnerUrl(), params: { "x-api-key": partnerKey }, field: `liveGiftFeed(liveSessionId: "s")` };
  return { name, url: stack.subgraphs.earnings.url, params: earningsParams, field: `giftReceived(hostId: "wsl-host")` };
}

describe("message size: every WebSocket message is bounded (WS_MAX_MESSAGE_BYTES, 64 KiB), closed with 1009", () => {
  it("a 1 MB connection_init from an unauthenticated client is closed with 1009, and the gateway's /health still answers", async () => {
    const raw = await openRaw(stack.gateway.url);
    raw.send({ type: "connection_init", payload: { pad: "x".repeat(1024 * 1024) } });
    const closed = await raw.whenClosed();
    expect(closed.code).toBe(WsCloseCode.MessageTooBig);
    expect(await health(stack.gateway.url)).toBe(200);
  });

  it.each(ENDPOINTS)("%s: a 100 KB subscribe from a signed-in client is closed with 1009", async (name) => {
    const e = endpoint(name);
    const raw = await connectRaw(e.url, e.params);
    raw.send({ id: "big", type: "subscribe", payload: { query: `subscription { ${e.field} { id } }`, variables: { pad: "x".repeat(100 * 1024) } } });
    expect((await raw.whenClosed()).code).toBe(WsCloseCode.MessageTooBig);
    expect(raw.messages.filter((m) => m.id === "big")).toEqual([]);
  });

  it("a message just under the bound is read and answered (the bound is not a refusal of large-ish messages)", async () => {
    const raw = await connectRaw(stack.gateway.url, bearer(hostToken));
    const answer = await subscribeRaw(raw, "almost", `subscription { giftReceived(hostId: "wsl-host") { nope } }`, { pad: "x".repeat(60 * 1024) });
    expect(answer.type).toBe("error");
    expect(answer.payload[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(raw.closed).toBeNull();
    await raw.close();
  });
});

describe("connection_init timeout (WS_INIT_TIMEOUT_MS, 3 s)", () => {
  it("a socket that never sends connection_init is closed with 4408 within the timeout", async () => {
    const started = Date.now();
    const raw = await openRaw(stack.gateway.url);
    const closed = await raw.whenClosed(10_000);
    expect(closed.code).toBe(WsCloseCode.ConnectionInitTimeout);
    // A bound, not a speed target: closed by the 3 s timer, not by anything else earlier.
    expect(Date.now() - started).toBeGreaterThanOrEqual(2_900);
  });
});

describe("operation limits on every subscribe, on every WebSocket endpoint (same code and codes as HTTP)", () => {
  const deep = (field: string, levels: number) => `subscription { ${field} { host { ${"user { creatorProfile { ".repeat(levels)}id${" } }".repeat(levels)} } } }`;
  const cases = (e: Endpoint) => {
    const partner = e.name.startsWith("partner");
    return [
      // The contract has no cycle: depth 7 there, refused by the capped gateway's max depth 6.
      { what: "too deep", code: "QUERY_TOO_DEEP", query: partner ? `subscription { ${e.field} { host { liveSessions { nodes { topGifters { sender { id } } } } } } }` : deep(e.field, 6) },
      { what: "31 aliases", code: "TOO_MANY_ALIASES", query: `subscription { ${e.field} { ${Array.from({ length: 31 }, (_, i) => `a${i}: id`).join(" ")} } }` },
      { what: "2,100 tokens", code: "TOO_MANY_TOKENS", query: `subscription { ${e.field} { ${"id ".repeat(2100)} } }` },
      {
        what: "estimated cost above 5,000",
        code: "QUERY_TOO_COMPLEX",
        // 20 sessions (the default page) × 100 places × 3 fields ≈ 6,000, at depth 6.
        query: `subscription { ${e.field} { host { liveSessions { nodes { topGifters(first: 100) { rank coins gifts } } } } } }`,
      },
    ];
  };
  for (const name of ENDPOINTS) {
    it(`${name}: depth, aliases, tokens and cost are refused with their codes before anything starts; the socket stays open`, async () => {
      const ep = endpoint(name);
      const hub = stack.subgraphs.earnings.services.stream.stats;
      const openedBefore = hub.opened;
      const raw = await connectRaw(ep.url, ep.params);
      const got: Record<string, string> = {};
      for (const [i, c] of cases(ep).entries()) {
        const answer = await subscribeRaw(raw, `limit-${i}`, c.query);
        expect(answer.type, c.what).toBe("error");
        got[c.what] = answer.payload[0].extensions.code;
        expect(answer.payload[0].extensions.http, "no HTTP details over WebSocket").toBeUndefined();
      }
      expect(got).toEqual(Object.fromEntries(cases(ep).map((c) => [c.what, c.code])));
      expect(hub.opened, "no subscription reached the feed").toBe(openedBefore);
      expect(raw.closed).toBeNull();
      await raw.close();
    });
  }

  it("a subscription at the limits is accepted (the same query with 30 aliases runs)", async () => {
    const raw = await connectRaw(stack.gateway.url, bearer(hostToken));
    const gifts = await catalogGifts(stack);
    raw.send({ id: "ok", type: "subscribe", payload: { query: `subscription { giftReceived(hostId: "wsl-host") { ${Array.from({ length: 30 }, (_, i) => `a${i}: id`).join(" ")} } }` } });
    const hub = stack.subgraphs.earnings.services.stream.stats;
    const before = hub.opened;
    await expect.poll(() => hub.opened).toBeGreaterThan(before);
    await credit(stack, [item({ hostId: "wsl-host", giftId: gifts[0].id, giftEventId: "wsl-at-limit" })]);
    const next = await raw.next((m) => m.id === "ok" && m.type === "next", "an event");
    expect(next.payload.data.giftReceived.a29).toBe("wsl-at-limit");
    await raw.close();
  });
});

describe("subscriptions per socket (WS_MAX_SUBSCRIPTIONS_PER_SOCKET, 20)", () => {
  it("the 21st subscription on one socket gets TOO_MANY_SUBSCRIPTIONS, the socket stays open, and a freed slot can be used again", async () => {
    const gifts = await catalogGifts(stack);
    const raw = await connectRaw(stack.gateway.url, bearer(hostToken));
    const hub = stack.subgraphs.earnings.services.stream.stats;
    const before = hub.subscribers;
    for (let i = 0; i < 20; i++) raw.send({ id: `s${i}`, type: "subscribe", payload: { query: `subscription { giftReceived(hostId: "wsl-host") { id } }` } });
    await expect.poll(() => hub.subscribers - before, { timeout: 15_000 }).toBe(20);
    const refused = await subscribeRaw(raw, "s20", `subscription { giftReceived(hostId: "wsl-host") { id } }`);
    expect(refused.type).toBe("error");
    expect(refused.payload[0].extensions).toMatchObject({ code: "TOO_MANY_SUBSCRIPTIONS", limit: 20 });
    expect(hub.subscribers - before).toBe(20);
    expect(raw.closed).toBeNull();

    raw.send({ id: "s0", type: "complete" });
    await expect.poll(() => hub.subscribers - before).toBe(19);
    raw.send({ id: "again", type: "subscribe", payload: { query: `subscription { giftReceived(hostId: "wsl-host") { id } }` } });
    await expect.poll(() => hub.subscribers - before).toBe(20);
    await credit(stack, [item({ hostId: "wsl-host", giftId: gifts[0].id, giftEventId: "wsl-freed-slot" })]);
    const next = await raw.next((m) => m.id === "again" && m.type === "next", "an event on the freed slot");
    expect(next.payload.data.giftReceived.id).toBe("wsl-freed-slot");
    await raw.close();
  });

  it("10,000 subscribe messages at once on one socket start at most 20", async () => {
    const raw = await connectRaw(stack.gateway.url, bearer(hostToken));
    const hub = stack.subgraphs.earnings.services.stream.stats;
    const before = hub.subscribers;
    for (let i = 0; i < 10_000; i++) raw.send({ id: `f${i}`, type: "subscribe", payload: { query: `subscription { giftReceived(hostId: "wsl-host") { id } }` } });
    await raw.next((m) => m.id === "f9999", "the last answer", 30_000);
    const refused = raw.messages.filter((m) => m.type === "error" && m.payload[0].extensions.code === "TOO_MANY_SUBSCRIPTIONS");
    expect(refused.length).toBeGreaterThanOrEqual(10_000 - 20);
    expect(hub.subscribers - before).toBeLessThanOrEqual(20);
    await raw.close();
  });
});

describe("sockets per user and per address (WS_MAX_SOCKETS_PER_USER, WS_MAX_SOCKETS_PER_ADDRESS), close 4429", () => {
  it("a user's 4th socket (cap 3) is closed with 4429; other users are unaffected; closing one frees a place", async () => {
    const token = await stack.token({ sub: "wsl-many", roles: ["viewer"] });
    const held: RawWs[] = [];
    for (let i = 0; i < 3; i++) held.push(await connectRaw(capped.url, bearer(token)));
    const fourth = await openRaw(capped.url);
    fourth.send({ type: "connection_init", payload: bearer(token) });
    const closed = await fourth.whenClosed();
    expect(closed.code).toBe(WsCloseCode.RateLimited);
    expect(closed.reason).toMatch(/user/);
    expect(capped.wsGuard.socketsOf("wsl-many")).toBe(3);

    const other = await connectRaw(capped.url, bearer(await stack.token({ sub: "wsl-other", roles: ["viewer"] })));
    await held[0].close();
    await expect.poll(() => capped.wsGuard.socketsOf("wsl-many")).toBe(2);
    const again = await connectRaw(capped.url, bearer(token));
    expect(again.closed).toBeNull();
    await Promise.all([...held, other, again].map((r) => r.close()));
  });

  it("an address's 9th socket (cap 8) is closed with 4429 before any connection_init, counted across /graphql and /partner/graphql", async () => {
    const held: RawWs[] = [];
    for (let i = 0; i < 4; i++) held.push(await openRaw(capped.url), await openRaw(partnerUrl()));
    expect(held.every((r) => r.closed === null)).toBe(true);
    const ninth = await openRaw(partnerUrl());
    const closed = await ninth.whenClosed();
    expect(closed.code).toBe(WsCloseCode.RateLimited);
    expect(closed.reason).toMatch(/address/);
    await held[0].close();
    // The place is free again once a socket has gone.
    const replacement = await connectRaw(capped.url, bearer(hostToken));
    expect(replacement.closed).toBeNull();
    await Promise.all([...held, replacement].map((r) => r.close()));
  });

  it("a partner's sockets count like a user's (per partner), against the same cap", async () => {
    const held: RawWs[] = [];
    for (let i = 0; i < 3; i++) held.push(await connectRaw(partnerUrl(), { "x-api-key": partnerKey }));
    const fourth = await openRaw(partnerUrl());
    fourth.send({ type: "connection_init", payload: { "x-api-key": partnerKey } });
    expect((await fourth.whenClosed()).code).toBe(WsCloseCode.RateLimited);
    await Promise.all(held.map((r) => r.close()));
  });
});

describe("ping rate (WS_MAX_PINGS_PER_MINUTE, 60, burst 10), close 1008", () => {
  it("a flood of graphql-ws pings closes the socket with 1008; a client pinging at keep-alive pace is answered", async () => {
    const calm = await connectRaw(stack.gateway.url, bearer(hostToken));
    for (let i = 0; i < 3; i++) calm.send({ type: "ping" });
    await expect.poll(() => calm.messages.filter((m) => m.type === "pong").length).toBe(3);
    expect(calm.closed).toBeNull();
    await calm.close();

    const flood = await connectRaw(stack.gateway.url, bearer(hostToken));
    for (let i = 0; i < 200; i++) flood.send({ type: "ping" });
    expect((await flood.whenClosed()).code).toBe(WsCloseCode.PolicyViolation);
  });

  it("a flood of WebSocket ping frames, even before connection_init, closes the socket with 1008 (on the earnings stream server too)", async () => {
    for (const url of [stack.gateway.url, stack.subgraphs.earnings.url]) {
      const raw = await openRaw(url);
      for (let i = 0; i < 200; i++) raw.socket.ping();
      expect((await raw.whenClosed()).code).toBe(WsCloseCode.PolicyViolation);
    }
  });
});

describe("introspection aliases on the partner endpoint (introspection is on there: the contract is published)", () => {
  it("60 aliased __schema fields over HTTP are refused with TOO_MANY_ALIASES; one __schema is answered", async () => {
    const ask = (query: string) =>
      fetch(partnerUrl(), { method: "POST", headers: { "content-type": "application/json", "x-api-key": partnerKey }, body: JSON.stringify({ query }) }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const bomb = await ask(`{ ${Array.from({ length: 60 }, (_, i) => `s${i}: __schema { types { name } }`).join(" ")} }`);
    expect(bomb.status).toBe(400);
    expect(bomb.body.errors[0].extensions.code).toBe("TOO_MANY_ALIASES");
    const one = await ask(`{ __schema { types { name } } }`);
    expect(one.body.data.__schema.types.length).toBeGreaterThan(0);
  });
});
