import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { createClient } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { mintToken } from "../platform/auth.js";
import { ensureDatabase } from "../platform/db.js";
import { startCatalog } from "../subgraphs/catalog/index.js";
import { appendToFeed } from "../subgraphs/earnings/domain/feed.js";
import { startEarnings } from "../subgraphs/earnings/index.js";
import { startWallet } from "../subgraphs/wallet/index.js";
import { composeSupergraph } from "../scripts/compose.js";
import { startGateway } from "../gateway/index.js";
import { loadBenchSettings } from "./config.js";

/**
 * Measures the live stream's own delivery latency: from the commit of a credited gift
 * (appendToFeed in the earnings consumer's transaction) to the host's graphql-ws client
 * parsing the event from the GATEWAY, catalog fields resolved. One process, one clock.
 * Scratch database on DATABASE_URL's server, dropped afterwards.
 *
 *   LOG_LEVEL=silent DATABASE_URL=postgres://… node dist/bench/latency-probe.js [gifts=500] [perSecond=100]
 */
const admin = loadBenchSettings().databaseUrl;
if (!admin) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const total = Number(process.argv[2] ?? 500);
const rate = Number(process.argv[3] ?? 100);

const name = `gift_latency_${process.pid}`;
const url = await ensureDatabase(admin, name);
const opts = { databaseUrl: url, port: 0, poolSize: 8 };
const catalog = await startCatalog(opts);
const earnings = await startEarnings(opts);
const wallet = await startWallet(opts);
const { supergraph } = await composeSupergraph();
const gateway = await startGateway({ port: 0, supergraphSdl: supergraph, subgraphUrls: { wallet: wallet.url, catalog: catalog.url, earnings: earnings.url } });
try {
  await earnings.services.creators.ensure({ id: "probe-host", name: "Probe", roles: ["host"], region: "US", adult: true, exp: undefined });
  const giftRes = await fetch(gateway.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ gifts { id } }" }) });
  const giftId = ((await giftRes.json()) as { data: { gifts: { id: string }[] } }).data.gifts[0].id;
  const token = await mintToken({ sub: "probe-host", roles: ["host"] });
  const committed = new Map<string, number>();
  const latencies: number[] = [];
  let done: () => void = () => {};
  const finished = new Promise<void>((r) => (done = r));
  const client = createClient({ url: gateway.url.replace(/^http/, "ws"), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` } });
  client.subscribe<{ giftReceived: { id: string; gift: { name: string } } }>(
    { query: `subscription { giftReceived(hostId: "probe-host") { id cursor diamonds gift { name imageUrl } } }` },
    {
      next: (v) => {
        const at = performance.now();
        const id = v.data?.giftReceived.id;
        const c = id ? committed.get(id) : undefined;
        if (c !== undefined && !id!.startsWith("warm")) latencies.push(at - c);
        if (latencies.length >= total) done();
      },
      error: (e) => console.error("stream error", e),
      complete: () => {},
    },
  );
  const credit = async (id: string) => {
    await earnings.dataSource.transaction((m) =>
      appendToFeed(m, [{ giftEventId: id, hostId: "probe-host", liveSessionId: null, senderId: "probe-viewer", senderName: "Probe Viewer", giftId, quantity: 1, unitCost: 1, coins: 1, diamonds: 0, comboId: null, sentAt: new Date() }]),
    );
    committed.set(id, performance.now()); // the commit has returned
  };
  // Warm up (plans cached, connections open) until the subscription delivers.
  for (let i = 0; earnings.services.stream.stats.delivered === 0 && i < 200; i++) {
    await credit(`warm-${i}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await credit(randomUUID()); // one writer, like the consumer (appends are serialized anyway)
  }
  await Promise.race([finished, new Promise((r) => setTimeout(r, 30_000))]);
  await client.dispose();
  const s = [...latencies].sort((a, b) => a - b);
  const p = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]?.toFixed(1);
  console.log(JSON.stringify({ gifts: total, offeredPerSec: rate, delivered: latencies.length, commitToHostMs: { p50: p(0.5), p90: p(0.9), p99: p(0.99), max: p(1) } }));
} finally {
  await gateway.stop();
  await Promise.all([wallet.stop(), catalog.stop(), earnings.stop()]);
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await c.end();
}
