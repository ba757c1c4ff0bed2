import "reflect-metadata";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../../gateway/index.js";
import { subgraphQueryIdStats } from "../../gateway/data-source.js";
import { startWallet } from "../../subgraphs/wallet/index.js";
import { startStack, type Stack } from "../support/stack.js";
import { balanceOf, catalogGifts, fund, goLive, key, trace, viewerToken, type CatalogGift } from "./support.js";

/**
 * The gateway sends a planned subgraph query by its SHA-256 once the subgraph has its text
 * (gateway/data-source.ts SubgraphQueryIds, Apollo's APQ). What a client would notice if it were
 * wrong: a gift sent twice or not at all when a wallet instance does not know the id. A proxy in
 * front of the wallet records each body the gateway sends and can switch to a second wallet process
 * (the same database, its own empty APQ cache), as a load balancer moving to another instance would.
 */
interface Recorded {
  query: boolean;
  id: string | undefined;
  answer: string;
}

interface SwitchingProxy {
  url: string;
  bodies: Recorded[];
  target: string;
  close(): Promise<void>;
}

async function switchingProxy(initial: string): Promise<SwitchingProxy> {
  const proxy: SwitchingProxy = { url: "", bodies: [], target: initial, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks);
      const u = new URL(proxy.target);
      const up = http.request({ host: u.hostname, port: u.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
        const out: Buffer[] = [];
        r.on("data", (c: Buffer) => out.push(c));
        r.on("end", () => {
          const answer = Buffer.concat(out);
          if (req.url?.startsWith("/graphql") && body.length) {
            const sent = JSON.parse(body.toString("utf8")) as { query?: string; extensions?: { persistedQuery?: { sha256Hash?: string } } };
            proxy.bodies.push({ query: typeof sent.query === "string", id: sent.extensions?.persistedQuery?.sha256Hash, answer: answer.toString("utf8") });
          }
          res.writeHead(r.statusCode ?? 502, r.headers);
          res.end(answer);
        });
      });
      up.on("error", () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  proxy.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  };
  return proxy;
}

const SEND = `mutation SendById($input: SendGiftInput!) { sendGift(input: $input) { giftEvent { id coins senderBalanceAfter } userErrors { code } } }`;

let stack: Stack;
let other: Awaited<ReturnType<typeof startWallet>>;
let proxy: SwitchingProxy;
let gw: RunningGateway;
let rose: CatalogGift;
let token: string;

beforeAll(async () => {
  stack = await startStack("subgraph-query-ids");
  other = await startWallet({
    databaseUrl: stack.databaseUrl,
    port: 0,
    poolSize: 4,
    migrate: false,
    peers: { catalog: stack.subgraphs.catalog.url, earnings: stack.subgraphs.earnings.url },
  });
  proxy = await switchingProxy(stack.subgraphs.wallet.url);
  gw = await stack.startGateway({ subgraphUrls: { wallet: proxy.url } });
  rose = (await catalogGifts(stack)).get("rose")!;
  await goLive(stack, "host-ids");
  await fund(stack, "ids-viewer", 100);
  token = await viewerToken(stack, "ids-viewer");
});
afterAll(async () => {
  await gw?.stop();
  await proxy?.close();
  await other?.stop();
  await stack?.stop();
});

async function send(idempotencyKey: string) {
  const res = await fetch(gw.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SEND, variables: { input: { giftId: rose.id, hostId: "host-ids", idempotencyKey } } }),
  });
  const body = (await res.json()) as { data?: { sendGift: { giftEvent: { id: string; senderBalanceAfter: number } | null; userErrors: { code: string }[] } }; errors?: unknown[] };
  expect(body.errors).toBeUndefined();
  return body.data!.sendGift;
}

describe("planned subgraph queries by id (gateway → subgraph APQ)", () => {
  it("a subgraph query goes with its text the first time and by id alone after that; both sends are charged once each", async () => {
    const from = proxy.bodies.length;
    const first = await send(key("ids"));
    const second = await send(key("ids"));
    expect(first.giftEvent?.senderBalanceAfter).toBe(99);
    expect(second.giftEvent?.senderBalanceAfter).toBe(98);
    const sent = proxy.bodies.slice(from).filter((b) => b.answer.includes('"sendGift"'));
    expect(sent).toHaveLength(2);
    expect(sent[0]).toMatchObject({ query: true, id: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(sent[1]).toMatchObject({ query: false, id: sent[0].id });
    expect(await balanceOf(stack, "ids-viewer")).toEqual({ coins: 98, debt: 0 });
  });

  it("a wallet instance that does not know the id refuses it before running anything; the gateway sends the text and the gift is charged exactly once", async () => {
    proxy.target = other.url; // the next sends reach a wallet process whose APQ cache is empty
    const from = proxy.bodies.length;
    const statsBefore = { ...subgraphQueryIdStats };
    const traced = await trace(stack);
    const sent = await send(key("ids-moved"));
    expect(sent.userErrors).toEqual([]);
    expect(sent.giftEvent?.senderBalanceAfter).toBe(97);
    const bodies = proxy.bodies.slice(from);
    expect(bodies.map((b) => ({ query: b.query, refused: b.answer.includes("PERSISTED_QUERY_NOT_FOUND") }))).toEqual([
      { query: false, refused: true },
      { query: true, refused: false },
    ]);
    expect(subgraphQueryIdStats.resent - statsBefore.resent).toBe(1);
    const after = await trace(stack);
    expect(after.giftEvents - traced.giftEvents).toBe(1);
    expect(after.giftLedgerEntries - traced.giftLedgerEntries).toBe(1);
    expect(await balanceOf(stack, "ids-viewer")).toEqual({ coins: 97, debt: 0 });
    // ...and it has the text now: the next send goes by id again.
    await send(key("ids-moved"));
    expect(proxy.bodies.at(-1)).toMatchObject({ query: false });
    expect(await balanceOf(stack, "ids-viewer")).toEqual({ coins: 96, debt: 0 });
  });
});
