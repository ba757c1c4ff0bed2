import "reflect-metadata";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../../gateway/index.js";
import { CACHEABLE_PUBLIC_FIELDS } from "../../gateway/public-fetches.js";
import { operationMemoStats } from "../../gateway/operation-memo.js";
import { CATALOG_CHANNEL } from "../../subgraphs/catalog/transport/owner-reads-client.js";
import { composeSupergraph } from "../../scripts/compose.js";
import { eventually } from "../support/eventually.js";
import { until } from "../stream/helpers.js";
import { post, startStack, type Stack } from "../support/stack.js";

/**
 * Caller-independent subgraph fetches shared between callers (gateway/public-fetches.ts,
 * DECISIONS 96): identical anonymous reads in flight go out once, `gifts`/`coinPackages` answers
 * are cached while the owners' change notifications are heard, and nothing that depends on who
 * asks (a signed-in read, a mutation) is ever shared. Requests are counted at the subgraph's own
 * HTTP server; a proxy in front of each subgraph can hold answers to make "in flight" certain.
 */
interface Proxy {
  url: string;
  /** Requests waiting while held. */
  readonly pending: number;
  hold(): void;
  release(): void;
  close(): Promise<void>;
}

async function holdingProxy(target: string): Promise<Proxy> {
  const u = new URL(target);
  let holding = false;
  let held: (() => void)[] = [];
  const server = http.createServer((req, res) => {
    const forward = () => {
      const up = http.request({ host: u.hostname, port: u.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on("error", () => res.destroy());
      req.pipe(up);
    };
    if (holding) held.push(forward);
    else forward();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}${u.pathname}`,
    get pending() {
      return held.length;
    },
    hold: () => void (holding = true),
    release: () => {
      holding = false;
      const waiting = held;
      held = [];
      for (const f of waiting) f();
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let stack: Stack;
let gw: RunningGateway;
const proxies: Record<"wallet" | "catalog" | "earnings", Proxy> = {} as never;
/** HTTP requests each subgraph's own server received. */
const received = { wallet: 0, catalog: 0, earnings: 0 };

beforeAll(async () => {
  stack = await startStack("public-fetches");
  for (const name of ["wallet", "catalog", "earnings"] as const) {
    stack.subgraphs[name].httpServer.on("request", (req: http.IncomingMessage) => {
      if (req.url?.startsWith("/graphql")) received[name]++;
    });
    proxies[name] = await holdingProxy(stack.subgraphs[name].url);
  }
  gw = await startGateway({
    port: 0,
    supergraphSdl: (await composeSupergraph()).supergraph,
    subgraphUrls: { wallet: proxies.wallet.url, catalog: proxies.catalog.url, earnings: proxies.earnings.url },
    // The owners' NOTIFYs arrive on this database; a long TTL, so only invalidation can refresh an answer here.
    databaseUrl: stack.databaseUrl,
    publicFetches: { merge: true, cacheTtlMs: 60_000 },
  });
  await until(() => gw.publicFetches.caching("catalog") && gw.publicFetches.caching("wallet"), "the gateway's change listeners");
});
afterAll(async () => {
  await gw?.stop();
  for (const p of Object.values(proxies)) await p?.close();
  await stack?.stop();
});

async function gql(query: string, variables: Record<string, unknown> = {}, token?: string) {
  return post(gw.url, query, variables, { token });
}

describe("merging identical in-flight reads", () => {
  it("20 identical concurrent anonymous reads reach the subgraph once, and every caller gets the whole answer", async () => {
    const q = `{ giftCategories { key name } }`; // public, not cached: only merging can share it
    const before = { merged: gw.publicFetches.stats.merged, catalog: received.catalog };
    proxies.catalog.hold();
    const answers = Array.from({ length: 20 }, () => gql(q));
    await until(() => gw.publicFetches.stats.merged - before.merged === 19, "19 callers joining the first fetch");
    expect(proxies.catalog.pending).toBe(1);
    proxies.catalog.release();
    const results = await Promise.all(answers);
    for (const r of results) {
      expect(r.errors).toBeUndefined();
      expect(r.data.giftCategories).toEqual(results[0].data.giftCategories);
    }
    expect(results[0].data.giftCategories.length).toBeGreaterThan(0);
    expect(received.catalog - before.catalog).toBe(1);
  });

  it("a signed-in read is never merged: 10 identical concurrent reads with the same user's token are 10 subgraph requests", async () => {
    const token = await stack.token({ sub: "pf-alice", roles: ["viewer"] });
    const before = { merged: gw.publicFetches.stats.merged, catalog: received.catalog };
    proxies.catalog.hold();
    const answers = Array.from({ length: 10 }, () => gql(`{ giftCategories { key } }`, {}, token));
    await until(() => proxies.catalog.pending === 10, "10 requests at the catalog");
    proxies.catalog.release();
    for (const r of await Promise.all(answers)) expect(r.errors).toBeUndefined();
    expect(received.catalog - before.catalog).toBe(10);
    expect(gw.publicFetches.stats.merged).toBe(before.merged);
  });

  it("a mutation is never merged, not even an anonymous one", async () => {
    const before = received.earnings;
    proxies.earnings.hold();
    const m = `mutation { endLiveSession(input: { id: "00000000-0000-0000-0000-000000000000" }) { userErrors { code } } }`;
    const answers = Array.from({ length: 5 }, () => gql(m));
    await until(() => proxies.earnings.pending === 5, "5 mutations at earnings");
    proxies.earnings.release();
    for (const r of await Promise.all(answers)) expect(r.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    expect(received.earnings - before).toBe(5);
  });
});

describe("caching caller-independent public answers", () => {
  const GIFTS = `{ gifts { id slug coinCost } }`;

  it("listens where the catalog NOTIFYs (the catalog client's channel)", () => {
    expect(CACHEABLE_PUBLIC_FIELDS.catalog.channel).toBe(CATALOG_CHANNEL);
  });

  it("serves a repeated anonymous gifts read from memory; a signed-in one always asks the catalog", async () => {
    await gql(GIFTS);
    const before = { catalog: received.catalog, hits: gw.publicFetches.stats.hits, reused: operationMemoStats.reused };
    const again = await gql(GIFTS);
    expect(again.errors).toBeUndefined();
    expect(received.catalog).toBe(before.catalog);
    expect(gw.publicFetches.stats.hits - before.hits).toBe(1);
    expect(operationMemoStats.reused).toBeGreaterThan(before.reused); // the repeated operation's result shaping was not rebuilt
    await gql(GIFTS, {}, await stack.token({ sub: "pf-bob", roles: ["viewer"] }));
    expect(received.catalog - before.catalog).toBe(1);
  });

  it("after an admin's price change through the gateway, the next read shows the new price", async () => {
    const gifts = (await gql(GIFTS)).data.gifts as { id: string; slug: string; coinCost: number }[];
    const rose = gifts.find((g) => g.slug === "rose")!;
    const cachedBefore = received.catalog;
    expect((await gql(GIFTS)).data.gifts).toEqual(gifts); // cached
    expect(received.catalog).toBe(cachedBefore);
    const admin = await stack.token({ sub: "pf-admin", roles: ["admin"] });
    const changed = await gql(`mutation($i: UpdateGiftInput!) { updateGift(input: $i) { gift { coinCost } userErrors { code } } }`, { i: { id: rose.id, coinCost: rose.coinCost + 7, priceNote: "public cache test" } }, admin);
    expect(changed.data.updateGift.userErrors).toEqual([]);
    const next = await gql(GIFTS);
    expect(next.data.gifts.find((g: { id: string }) => g.id === rose.id).coinCost).toBe(rose.coinCost + 7);
  });

  it("a change made without this gateway (straight to the catalog) reaches the cache by the catalog's NOTIFY", async () => {
    const gifts = (await gql(GIFTS)).data.gifts as { id: string; slug: string; coinCost: number }[];
    const gift = gifts.find((g) => g.slug !== "rose")!;
    const cached = received.catalog;
    await gql(GIFTS);
    expect(received.catalog).toBe(cached); // still served from memory
    const admin = await stack.token({ sub: "pf-admin", roles: ["admin"] });
    const changed = await post(stack.subgraphs.catalog.url, `mutation($i: UpdateGiftInput!) { updateGift(input: $i) { userErrors { code } } }`, { i: { id: gift.id, coinCost: gift.coinCost + 3 } }, { token: admin, service: "catalog" });
    expect(changed.data.updateGift.userErrors).toEqual([]);
    await eventually(async () => {
      const r = await gql(GIFTS);
      expect(r.data.gifts.find((g: { id: string }) => g.id === gift.id).coinCost).toBe(gift.coinCost + 3);
    });
  });

  it("coinPackages is cached too, and the wallet's new NOTIFY (coin package changes) refreshes it", async () => {
    const Q = `{ coinPackages(region: "US") { id price { amountMinor currency } } }`;
    const first = (await gql(Q)).data.coinPackages as { id: string; price: { amountMinor: number; currency: string } }[];
    const before = received.wallet;
    await gql(Q);
    expect(received.wallet).toBe(before);
    const pkg = first[0];
    const admin = await stack.token({ sub: "pf-admin", roles: ["admin"] });
    const repriced = await post(
      stack.subgraphs.wallet.url,
      `mutation($i: RepriceCoinPackageInput!) { repriceCoinPackage(input: $i) { userErrors { code message } } }`,
      { i: { packageId: pkg.id, amountMinor: pkg.price.amountMinor + 11, currency: pkg.price.currency, reason: "public cache test" } },
      { token: admin, service: "wallet" },
    );
    expect(repriced.errors).toBeUndefined();
    expect(repriced.data.repriceCoinPackage.userErrors).toEqual([]);
    await eventually(async () => {
      const r = await gql(Q);
      expect(r.data.coinPackages.find((p: { id: string }) => p.id === pkg.id).price.amountMinor).toBe(pkg.price.amountMinor + 11);
    });
  });

  it("caches nothing while its listener is down, and drops what it had when it comes back", async () => {
    await gql(GIFTS);
    const invalidations = gw.publicFetches.stats.invalidations;
    const killed = await stack.subgraphs.catalog.dataSource.query(`SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = 'gateway-public-cache-catalog' AND pid <> pg_backend_pid()`);
    expect(killed.length).toBeGreaterThan(0);
    // Lost (entries dropped), then listening again (dropped again: notifications may have been missed meanwhile).
    await until(() => gw.publicFetches.stats.invalidations >= invalidations + 2 && gw.publicFetches.caching("catalog"), "the listener lost and back");
    const before = received.catalog;
    await gql(GIFTS);
    expect(received.catalog - before).toBe(1); // what was cached before the loss is gone
  });
});
