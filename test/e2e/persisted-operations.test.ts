import "reflect-metadata";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../../gateway/index.js";
import { readManifest, type ManifestOperation } from "../../gateway/persisted-operations.js";
import { composeSupergraph } from "../../scripts/compose.js";
import { manifestText, MANIFEST_PATH, webAppManifest } from "../../scripts/persisted-operations.js";
import { COIN_PACKAGES, LIVE_SESSIONS, ME } from "../../web/src/operations.js";
import { goLive } from "../gifting/support.js";
import { subscribe, until, wsUrl } from "../stream/helpers.js";
import { startStack, type Stack } from "../support/stack.js";

/**
 * Persisted operations (DECISIONS 95): the web app's operations in a committed manifest, served
 * prepared, and — with PERSISTED_OPERATIONS=required — nothing else, on HTTP and WebSocket alike.
 */
let stack: Stack;
let strict: RunningGateway;
const manifest = readManifest();
const op = (name: string): ManifestOperation => {
  const found = manifest.operations.find((o) => o.name === name);
  if (!found) throw new Error(`${name} is not in the manifest`);
  return found;
};
const persisted = (id: string) => ({ persistedQuery: { version: 1, sha256Hash: id } });

async function postJson(url: string, body: unknown, token?: string): Promise<{ status: number; body: any }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

beforeAll(async () => {
  stack = await startStack("persisted-ops");
  const { wallet, catalog, earnings } = stack.subgraphs;
  strict = await startGateway({
    port: 0,
    supergraphSdl: (await composeSupergraph()).supergraph,
    subgraphUrls: { wallet: wallet.url, catalog: catalog.url, earnings: earnings.url },
    persistedOperations: { mode: "required" },
  });
});
afterAll(async () => {
  await strict?.stop();
  await stack?.stop();
});

describe("the manifest", () => {
  it("is the web app's operations as its clients send them (regenerate with npm run operations:manifest), each id the SHA-256 of its text", async () => {
    expect(readFileSync(MANIFEST_PATH, "utf8")).toBe(manifestText(await webAppManifest()));
    expect(manifest.operations.length).toBeGreaterThanOrEqual(15);
    for (const o of manifest.operations) expect(o.id).toBe(createHash("sha256").update(o.body).digest("hex"));
    expect(manifest.operations.map((o) => o.type)).toEqual(expect.arrayContaining(["query", "mutation", "subscription"]));
  });

  it("every operation in it validates against the graph and is prepared at start", () => {
    expect(strict.persistedOperations.size).toBe(manifest.operations.length);
    expect(strict.persistedOperations.stats.invalid).toBe(0);
  });
});

describe("PERSISTED_OPERATIONS=required", () => {
  it("runs a manifest operation by id alone, from the prepared document", async () => {
    const before = strict.persistedOperations.stats.preparedHits;
    const r = await postJson(strict.url, { extensions: persisted(op("CoinPackages").id) });
    expect(r.status).toBe(200);
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.coinPackages.length).toBeGreaterThan(0);
    const me = await postJson(strict.url, { extensions: persisted(op("Me").id) }, await stack.token({ sub: "po-alice", roles: ["viewer"] }));
    expect(me.body.data.me.id).toBe("po-alice");
    expect(strict.persistedOperations.stats.preparedHits - before).toBe(2);
  });

  it("runs a manifest operation sent as its exact text (and as a GET by id)", async () => {
    const r = await postJson(strict.url, { query: op("CoinPackages").body });
    expect(r.body.errors).toBeUndefined();
    expect(r.body.data.coinPackages.length).toBeGreaterThan(0);
    const get = await fetch(`${strict.url}?extensions=${encodeURIComponent(JSON.stringify(persisted(op("CoinPackages").id)))}`, { headers: { "apollo-require-preflight": "true" } });
    expect(get.status).toBe(200);
    expect(((await get.json()) as any).data.coinPackages.length).toBeGreaterThan(0);
  });

  it("refuses any other operation with OPERATION_NOT_PERSISTED (HTTP 400) before anything runs: unknown text, edited text, unknown id, a GET, one operation of a batch", async () => {
    const { catalog } = stack.subgraphs;
    catalog.queries.reset();
    const refusals = [
      await postJson(strict.url, { query: "{ gifts { id name } }" }),
      await postJson(strict.url, { query: `${op("CoinPackages").body} ` }),
      await postJson(strict.url, { extensions: persisted("0".repeat(64)) }),
      await postJson(strict.url, { query: "query Mine { gifts { id } }", extensions: persisted(createHash("sha256").update("query Mine { gifts { id } }").digest("hex")) }),
      await postJson(strict.url, [{ extensions: persisted(op("CoinPackages").id) }, { query: "{ gifts { id } }" }]),
    ];
    const get = await fetch(`${strict.url}?query=${encodeURIComponent("{ gifts { id } }")}`, { headers: { "apollo-require-preflight": "true" } });
    refusals.push({ status: get.status, body: await get.json() });
    for (const r of refusals) {
      expect(r.status).toBe(400);
      expect(r.body.errors[0].extensions.code).toBe("OPERATION_NOT_PERSISTED");
      expect(r.body.errors[0].message).toMatch(/persisted-operation manifest/);
    }
    expect(catalog.queries.queries).toEqual([]); // nothing reached the catalog
  });

  it("applies the same rule to graphql-ws subscribe: an unknown subscription is refused; a manifest one runs by its text and by its id alone", async () => {
    const hostId = "po-host";
    await goLive(stack, hostId);
    const host = await stack.token({ sub: hostId, name: "PO Host", roles: ["viewer", "host"] });
    const refused = subscribe(strict.url, host, `subscription { giftReceived(hostId: "${hostId}") { id } }`);
    await until(() => refused.errors.length > 0 || refused.closed !== null, "the refusal");
    expect(refused.errors[0].extensions.code).toBe("OPERATION_NOT_PERSISTED");
    await refused.dispose();

    const hub = stack.subgraphs.earnings.services.stream;
    const opened = hub.stats.opened;
    const byText = subscribe(strict.url, host, op("HostGifts").body, { hostId, after: null });
    const events: any[] = [];
    const errors: any[] = [];
    const client = createClient({ url: wsUrl(strict.url), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${host}` }, retryAttempts: 0 });
    const stop = client.subscribe(
      { query: "", variables: { hostId, after: null }, extensions: persisted(op("HostGifts").id) },
      { next: (v) => (v.errors ? errors.push(...v.errors) : events.push(v)), error: (e) => errors.push(e), complete: () => undefined },
    );
    await until(() => hub.stats.opened >= opened + 2 || errors.length > 0 || byText.errors.length > 0, "both subscriptions upstream");
    expect(errors).toEqual([]);
    expect(byText.errors).toEqual([]);

    const gift = (await postJson(strict.url, { query: op("CoinPackages").body })).status; // any manifest op works alongside
    expect(gift).toBe(200);
    const { data } = await stack.gql(`{ gifts { id } }`);
    const sent = await postJson(strict.url, { extensions: persisted(op("SendTestGift").id), variables: { giftId: data.gifts[0].id, quantity: 1 } }, host);
    expect(sent.body.errors).toBeUndefined();
    expect(sent.body.data.sendTestGift.userErrors).toEqual([]);
    await byText.waitFor(1);
    await until(() => events.length >= 1 || errors.length > 0, "the test gift by id");
    expect(events[0].data.giftReceived.isTest).toBe(true);
    expect(byText.events[0].data.giftReceived.id).toBe(events[0].data.giftReceived.id);
    stop();
    await client.dispose();
    await byText.dispose();
  });

  it("Apollo Client with its persisted-query link (as the web app runs it) sends ids the gateway knows: every app query runs, nothing is refused", async () => {
    const refused = strict.persistedOperations.stats.refused;
    const byId = strict.persistedOperations.stats.byId;
    const token = await stack.token({ sub: "po-bob", roles: ["viewer"] });
    const client = new ApolloClient({
      link: ApolloLink.from([
        new PersistedQueryLink({ sha256: (text: string) => createHash("sha256").update(text).digest("hex") }),
        new HttpLink({ uri: strict.url, headers: { authorization: `Bearer ${token}` } }),
      ]),
      cache: new InMemoryCache(),
    });
    const me = await client.query({ query: ME, fetchPolicy: "network-only" });
    expect((me.data as any).me.id).toBe("po-bob");
    const packages = await client.query({ query: COIN_PACKAGES, fetchPolicy: "network-only" });
    expect((packages.data as any).coinPackages.length).toBeGreaterThan(0);
    const live = await client.query({ query: LIVE_SESSIONS, variables: { first: 5 }, fetchPolicy: "network-only" });
    expect((live.data as any).liveSessions.edges).toBeDefined();
    expect(strict.persistedOperations.stats.refused).toBe(refused);
    expect(strict.persistedOperations.stats.byId - byId).toBe(3);
  });
});

describe("PERSISTED_OPERATIONS=open (the default)", () => {
  it("serves manifest ids, and keeps Automatic Persisted Queries for everything else: not found, then registered with the text", async () => {
    const gw = stack.gateway.url;
    const known = await postJson(gw, { extensions: persisted(op("CoinPackages").id) });
    expect(known.body.data.coinPackages.length).toBeGreaterThan(0);
    const text = `query OpenMode { gifts { id } }`;
    const id = createHash("sha256").update(text).digest("hex");
    const first = await postJson(gw, { extensions: persisted(id) });
    expect(first.body.errors[0].extensions.code).toBe("PERSISTED_QUERY_NOT_FOUND");
    const registered = await postJson(gw, { query: text, extensions: persisted(id) });
    expect(registered.body.errors).toBeUndefined();
    const again = await postJson(gw, { extensions: persisted(id) });
    expect(again.body.data.gifts.length).toBeGreaterThan(0);
    const plain = await postJson(gw, { query: "{ gifts { name } }" });
    expect(plain.body.data.gifts.length).toBeGreaterThan(0);
  });
});
