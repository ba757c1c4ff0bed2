import { createHash, randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IDE_DIR } from "../../gateway/ide.js";
import { post, startStack, type Stack } from "../support/stack.js";
import { eventually } from "../support/eventually.js";
import { fund, goLive } from "../gifting/support.js";
import { opened, subscribe } from "../stream/helpers.js";

/**
 * The "browser-ready graph" issue, items 3-9: what a frontend team on Apollo Client / urql with a
 * normalized cache and generated types runs into. Real stack, real sockets.
 */
let stack: Stack;
let gifts: { id: string; slug: string; coinCost: number; imageUrl: string; animationUrl: string | null }[];
beforeAll(async () => {
  stack = await startStack("frontend");
  gifts = (await stack.gql(`{ gifts(includeUpcoming: true) { id slug coinCost imageUrl animationUrl } }`)).data.gifts;
});
afterAll(async () => {
  await stack?.stop();
});

const key = () => randomUUID();
const SEND = `mutation($i: SendGiftInput!) { sendGift(input: $i) { giftEvent { id sender { id displayName avatarUrl } } wallet { id coins debt } userErrors { code } } }`;
const rose = () => gifts.find((g) => g.slug === "rose")!;

async function viewer(sub: string, name: string, picture?: string) {
  return stack.token({ sub, name, picture, region: "US", adult: true });
}

describe("3. people have names", () => {
  it("GiftEvent.sender and TopGifter.sender carry the display name and avatar from the sender's token", async () => {
    await goLive(stack, "fe-host");
    await fund(stack, "fe-alice", 100);
    const alice = await viewer("fe-alice", "Alice Liddell", "https://img.example.com/alice.png");
    const sent = await stack.gql(SEND, { i: { giftId: rose().id, hostId: "fe-host", quantity: 3, idempotencyKey: key() } }, alice);
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendGift.giftEvent.sender).toEqual({ id: "fe-alice", displayName: "Alice Liddell", avatarUrl: "https://img.example.com/alice.png" });
    const board = await eventually(async () => {
      const r = await stack.gql(`{ creator(id: "fe-host") { topGifters(period: ALL_TIME) { rank sender { id displayName avatarUrl } coins } } }`);
      expect(r.data.creator.topGifters).toHaveLength(1);
      return r;
    });
    expect(board.errors).toBeUndefined();
    expect(board.data.creator.topGifters[0]).toEqual({ rank: 1, sender: { id: "fe-alice", displayName: "Alice Liddell", avatarUrl: "https://img.example.com/alice.png" }, coins: 3 });
  });

  it("a new name in a later token replaces the old one; an unchanged name is not written again", async () => {
    const { wallet } = stack.subgraphs;
    await stack.gql(`{ me { id } }`, {}, await viewer("fe-renamed", "Old Name"));
    wallet.queries.reset();
    await stack.gql(`{ me { id } }`, {}, await viewer("fe-renamed", "Old Name"));
    expect(wallet.queries.queries.filter((q) => q.includes("user_profiles") && q.includes("INSERT"))).toHaveLength(0);
    const me = await stack.gql(`{ me { id displayName avatarUrl } }`, {}, await viewer("fe-renamed", "New Name"));
    expect(me.data.me).toEqual({ id: "fe-renamed", displayName: "New Name", avatarUrl: null });
    const [row] = await wallet.dataSource.query(`SELECT display_name FROM wallet.user_profiles WHERE user_id = 'fe-renamed'`);
    expect(row.display_name).toBe("New Name");
  });

  it("a picture claim that is not an http(s) URL is no avatar", async () => {
    const me = await stack.gql(`{ me { avatarUrl } }`, {}, await viewer("fe-js", "JS", "javascript:alert(1)"));
    expect(me.data.me.avatarUrl).toBeNull();
  });

  it("100 User references resolve their display names with 1 SQL query", async () => {
    const { wallet } = stack.subgraphs;
    const values = Array.from({ length: 100 }, (_, i) => `('fe-u${i}', 'User ${i}')`).join(",");
    await wallet.dataSource.query(`INSERT INTO wallet.user_profiles (user_id, display_name) VALUES ${values}`);
    const representations = Array.from({ length: 100 }, (_, i) => ({ __typename: "User", id: `fe-u${i}` }));
    wallet.queries.reset();
    const res = await post(wallet.url, `query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { id displayName avatarUrl } } }`, { r: representations }, { service: "wallet" });
    expect(res.errors).toBeUndefined();
    expect(res.data._entities[42]).toEqual({ id: "fe-u42", displayName: "User 42", avatarUrl: null });
    expect(wallet.queries.queries.filter((q) => q.includes("user_profiles"))).toHaveLength(1);
  });

  it("a user the wallet never saw signed in shows their id as display name", async () => {
    const r = await post(stack.subgraphs.wallet.url, `query ($r: [_Any!]!) { _entities(representations: $r) { ... on User { displayName } } }`, { r: [{ __typename: "User", id: "fe-nobody" }] }, { service: "wallet" });
    expect(r.data._entities[0].displayName).toBe("fe-nobody");
  });
});

describe("4. normalized caches get consistent objects", () => {
  it("Wallet has a stable id, the same in two different queries", async () => {
    const t = await viewer("fe-cache", "Cache");
    const a = await stack.gql(`{ me { id wallet { id coins } } }`, {}, t);
    const b = await stack.gql(`{ me { wallet { id debt } } }`, {}, t);
    expect(a.data.me.wallet.id).toBe("fe-cache");
    expect(b.data.me.wallet.id).toBe(a.data.me.wallet.id);
  });

  it("sendGift returns the sender's changed wallet (same id, new coins), also on a replay", async () => {
    await fund(stack, "fe-bob", 50);
    const bob = await viewer("fe-bob", "Bob");
    const i = { giftId: rose().id, hostId: "fe-host", quantity: 5, idempotencyKey: key() };
    const first = await stack.gql(SEND, { i }, bob);
    expect(first.data.sendGift.wallet).toEqual({ id: "fe-bob", coins: 45, debt: 0 });
    const replay = await stack.gql(SEND, { i }, bob);
    expect(replay.data.sendGift.wallet).toEqual({ id: "fe-bob", coins: 45, debt: 0 });
    const failed = await stack.gql(SEND, { i: { ...i, quantity: 99, idempotencyKey: key() } }, bob);
    expect(failed.data.sendGift.userErrors[0].code).toBe("INSUFFICIENT_COINS");
    expect(failed.data.sendGift.wallet).toEqual({ id: "fe-bob", coins: 45, debt: 0 });
  });

  it("recharge returns the credited wallet", async () => {
    const t = await viewer("fe-buyer", "Buyer");
    const r = await stack.gql(
      `mutation($i: RechargeInput!) { recharge(input: $i) { order { status } wallet { id coins } userErrors { code } } }`,
      { i: { customCoins: 40, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: key() } },
      t,
    );
    expect(r.data.recharge).toEqual({ order: { status: "SUCCEEDED" }, wallet: { id: "fe-buyer", coins: 40 }, userErrors: [] });
  });

  it("the room feed's events are RoomGiftEvents without diamonds; the host's stream keeps GiftEvent.diamonds", async () => {
    const invalid = await stack.gql(`subscription { liveGiftFeed(liveSessionId: "x") { id diamonds } }`);
    expect(invalid.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");

    const sessionId = await goLive(stack, "fe-room-host");
    await fund(stack, "fe-carol", 30);
    const hostToken = await stack.token({ sub: "fe-room-host", name: "Room Host", roles: ["viewer", "host"] });
    const room = await opened(stack, () => subscribe(stack.gateway.url, hostToken, `subscription($s: ID!) { liveGiftFeed(liveSessionId: $s) { __typename id coins } }`, { s: sessionId }));
    const own = await opened(stack, () => subscribe(stack.gateway.url, hostToken, `subscription($h: ID!) { giftReceived(hostId: $h) { __typename id diamonds } }`, { h: "fe-room-host" }));
    try {
      const sent = await stack.gql(SEND, { i: { giftId: rose().id, hostId: "fe-room-host", liveSessionId: sessionId, quantity: 4, idempotencyKey: key() } }, await viewer("fe-carol", "Carol"));
      const id = sent.data.sendGift.giftEvent.id;
      const [roomEvent] = await room.waitFor(1);
      const [hostEvent] = await own.waitFor(1);
      expect(roomEvent.data.liveGiftFeed).toEqual({ __typename: "RoomGiftEvent", id, coins: 4 });
      expect(hostEvent.data.giftReceived).toEqual({ __typename: "GiftEvent", id, diamonds: 2 });
    } finally {
      await room.dispose();
      await own.dispose();
    }
  });
});

describe("5. an owner-only field fails alone", () => {
  it("a viewer's gifts { scheduledPrices } keeps the catalog: only that field is null, with FORBIDDEN", async () => {
    const r = await stack.gql(`{ gifts { id name scheduledPrices { coinCost } } }`, {}, await viewer("fe-viewer", "V"));
    expect(r.data.gifts.length).toBeGreaterThan(10);
    expect(r.data.gifts.every((g: any) => g.name && g.scheduledPrices === null)).toBe(true);
    expect(r.errors!.every((e) => e.extensions?.code === "FORBIDDEN")).toBe(true);
  });

  it("a viewer's creator { revenueShareBps revenueShareHistory payouts payoutsConnection } keeps the creator", async () => {
    const r = await stack.gql(
      `{ creator(id: "fe-host") { id lifetimeDiamonds revenueShareBps revenueShareHistory { shareBps } payouts { hasNextPage } payoutsConnection { pageInfo { hasNextPage } } } }`,
      {},
      await viewer("fe-viewer", "V"),
    );
    expect(r.data.creator).toMatchObject({ id: "fe-host", revenueShareBps: null, revenueShareHistory: null, payouts: null, payoutsConnection: null });
    expect(r.errors!.map((e) => [e.path?.join("."), e.extensions?.code]).sort()).toEqual([
      ["creator.payouts", "FORBIDDEN"],
      ["creator.payoutsConnection", "FORBIDDEN"],
      ["creator.revenueShareBps", "FORBIDDEN"],
      ["creator.revenueShareHistory", "FORBIDDEN"],
    ]);
  });

  it("the creator still reads their own restricted fields", async () => {
    const host = await stack.token({ sub: "fe-host", name: "Host", roles: ["viewer", "host"] });
    const r = await stack.gql(`{ creator(id: "fe-host") { revenueShareBps payouts { hasNextPage } } }`, {}, host);
    expect(r.errors).toBeUndefined();
    expect(r.data.creator).toEqual({ revenueShareBps: 5000, payouts: { hasNextPage: false } });
  });
});

describe("6. one pagination style: Relay connections", () => {
  it("liveSessionsConnection pages with edges, cursors and pageInfo, like Wallet.transactions", async () => {
    const hostToken = await stack.token({ sub: "fe-pager", name: "Pager", roles: ["viewer", "host"] });
    for (let i = 0; i < 3; i++) {
      const s = await goLive(stack, "fe-pager");
      await stack.gql(`mutation($id: ID!) { endLiveSession(input: { id: $id }) { userErrors { code } } }`, { id: s }, hostToken);
    }
    const Q = `query($after: String) { creator(id: "fe-pager") { liveSessionsConnection(first: 2, after: $after) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } } }`;
    const p1 = (await stack.gql(Q, {})).data.creator.liveSessionsConnection;
    expect(p1.edges).toHaveLength(2);
    expect(p1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false, startCursor: p1.edges[0].cursor, endCursor: p1.edges[1].cursor });
    const p2 = (await stack.gql(Q, { after: p1.pageInfo.endCursor })).data.creator.liveSessionsConnection;
    expect(p2.edges).toHaveLength(1);
    expect(p2.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const all = [...p1.edges, ...p2.edges].map((e: any) => e.node.id);
    expect(new Set(all).size).toBe(3);
    // Same order as the deprecated page shape.
    const old = (await stack.gql(`{ creator(id: "fe-pager") { liveSessions(first: 3) { nodes { id } } } }`)).data.creator.liveSessions.nodes.map((n: any) => n.id);
    expect(all).toEqual(old);
  });

  it("the old page fields are deprecated in the schema, not removed", async () => {
    const r = await stack.gql(`{ __type(name: "Creator") { fields(includeDeprecated: true) { name isDeprecated } } }`);
    const f = Object.fromEntries(r.data.__type.fields.map((x: any) => [x.name, x.isDeprecated]));
    expect(f).toMatchObject({ liveSessions: true, payouts: true, liveSessionsConnection: false, payoutsConnection: false });
  });
});

describe("7. enums that generated clients can switch on", () => {
  const enumOf = async (type: string, field: string) => {
    const r = await stack.gql(`query($t: String!) { __type(name: $t) { fields(includeDeprecated: true) { name type { kind name ofType { kind name } } } } }`, { t: type });
    const f = r.data.__type.fields.find((x: any) => x.name === field);
    return f.type.kind === "NON_NULL" ? f.type.ofType : f.type;
  };

  it("RechargeNextAction.type, RechargeOrder.failureCode and Payout.failureCode are enums", async () => {
    expect(await enumOf("RechargeNextAction", "type")).toMatchObject({ kind: "ENUM", name: "RechargeNextActionType" });
    expect(await enumOf("RechargeOrder", "failureCode")).toMatchObject({ kind: "ENUM", name: "RechargeFailureCode" });
    expect(await enumOf("Payout", "failureCode")).toMatchObject({ kind: "ENUM", name: "PayoutFailureCode" });
  });

  it("a declined recharge reports its failureCode as an enum value", async () => {
    const r = await stack.gql(
      `mutation($i: RechargeInput!) { recharge(input: $i) { order { status failureCode } } }`,
      { i: { customCoins: 40, paymentMethod: { type: "CARD", token: "pm_card_expired" }, idempotencyKey: key() } },
      await viewer("fe-declined", "D"),
    );
    expect(r.data.recharge.order).toEqual({ status: "FAILED", failureCode: "EXPIRED_CARD" });
  });

  it("every ErrorCode value and every argument and input field of the API is described", async () => {
    const r = await stack.gql(`{ __schema { types { name kind enumValues(includeDeprecated: true) { name description } inputFields { name description }
      fields(includeDeprecated: true) { name args { name description } } } } }`);
    const missing: string[] = [];
    for (const t of r.data.__schema.types) {
      if (t.name.startsWith("__")) continue;
      if (t.name === "ErrorCode") for (const v of t.enumValues) if (!v.description) missing.push(`ErrorCode.${v.name}`);
      for (const f of t.inputFields ?? []) if (!f.description) missing.push(`${t.name}.${f.name}`);
      for (const f of t.fields ?? []) for (const a of f.args) if (!a.description) missing.push(`${t.name}.${f.name}(${a.name})`);
    }
    expect(missing).toEqual([]);
  });
});

describe("8. persisted-query GETs are cacheable", () => {
  const QUERY = `{ gifts { id name coinCost } }`;
  const hash = createHash("sha256").update(QUERY).digest("hex");
  const getUrl = (withQuery: boolean) => {
    const u = new URL(stack.gateway.url);
    if (withQuery) u.searchParams.set("query", QUERY);
    u.searchParams.set("extensions", JSON.stringify({ persistedQuery: { version: 1, sha256Hash: hash } }));
    return u.href;
  };

  it("a GET without a content-type or preflight header is refused by CSRF prevention (what urql's default does)", async () => {
    const r = await fetch(getUrl(true));
    expect(r.status).toBe(400);
  });

  it("an APQ GET with apollo-require-preflight answers with public cache-control for a public query", async () => {
    const headers = { "apollo-require-preflight": "true" };
    const miss = await (await fetch(getUrl(false), { headers })).json();
    expect(miss.errors[0].extensions.code).toBe("PERSISTED_QUERY_NOT_FOUND");
    expect((await fetch(getUrl(true), { headers })).status).toBe(200);
    const hit = await fetch(getUrl(false), { headers });
    expect(hit.status).toBe(200);
    expect((await hit.json()).data.gifts.length).toBeGreaterThan(10);
    expect(hit.headers.get("cache-control")).toBe("public, max-age=60");
    expect(hit.headers.get("vary")).toMatch(/authorization/i);
  });

  it("a signed-in GET or a private query is never stored by a shared cache", async () => {
    const token = await viewer("fe-get", "G");
    const signedIn = await fetch(getUrl(true), { headers: { "apollo-require-preflight": "true", authorization: `Bearer ${token}` } });
    expect(signedIn.headers.get("cache-control")).toBe("private, no-store");
    const u = new URL(stack.gateway.url);
    u.searchParams.set("query", `{ me { id } }`);
    const priv = await fetch(u, { headers: { "apollo-require-preflight": "true", authorization: `Bearer ${token}` } });
    expect(priv.headers.get("cache-control")).toBe("private, no-store");
  });
});

describe("9. gift images and the development IDE are served locally", () => {
  it("every seeded gift's imageUrl and animationUrl answer 200 with an image type from the gateway", async () => {
    expect(gifts.length).toBe(23);
    for (const g of gifts) {
      for (const url of [g.imageUrl, g.animationUrl].filter((u): u is string => u !== null)) {
        // The default base is the gateway's default port; the test gateway runs on a free one.
        const local = new URL(new URL(url).pathname, stack.gateway.url);
        const r = await fetch(local);
        expect(r.status, url).toBe(200);
        expect(r.headers.get("content-type")).toMatch(/^image\//);
        expect((await r.text()).length).toBeGreaterThan(100);
      }
    }
    expect(new URL(gifts[0].imageUrl).pathname).toMatch(/^\/assets\/gifts\/[a-z-]+\.svg$/);
  });

  it("a path outside the gift images is not served", async () => {
    for (const p of ["/assets/gifts/..%2F..%2Fpackage.json", "/assets/gifts/.hidden.svg", "/assets/gifts/nope.svg"]) {
      expect((await fetch(new URL(p, stack.gateway.url))).status, p).toBe(404);
    }
  });

  it("GET /graphql from a browser serves the bundled GraphiQL, whose scripts load from the gateway itself", async () => {
    if (!existsSync(`${IDE_DIR}index.html`)) {
      // Built in a child process we wait for without blocking: the stack serves from this process's
      // event loop, and a blocked loop lets its idle keep-alive sockets go stale (ECONNRESET on the next fetch).
      const build = spawn(process.execPath, ["scripts/build-ide.mjs"], { stdio: "inherit" });
      const status = await new Promise<number | null>((resolve, reject) => build.once("error", reject).once("exit", resolve));
      expect(status).toBe(0);
    }
    const r = await fetch(stack.gateway.url, { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await r.text();
    expect(html).not.toMatch(/https?:\/\//); // nothing from a CDN
    const scripts = [...html.matchAll(/(?:src|href)="(\/graphiql\/[^"]+)"/g)].map((m) => m[1]);
    expect(scripts.length).toBeGreaterThan(0);
    for (const s of scripts) expect((await fetch(new URL(s, stack.gateway.url))).status, s).toBe(200);
  }, 180_000); // the IDE bundle is built here when npm test runs before any build (vite: a minute on a loaded machine)

  it("a GraphQL GET (no text/html) still reaches GraphQL", async () => {
    const u = new URL(stack.gateway.url);
    u.searchParams.set("query", "{ __typename }");
    const r = await fetch(u, { headers: { "apollo-require-preflight": "true" } });
    expect((await r.json()).data).toEqual({ __typename: "Query" });
  });
});
