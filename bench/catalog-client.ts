import "reflect-metadata";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { CatalogClient } from "../subgraphs/catalog/transport/owner-reads-client.js";
import { startCatalog } from "../subgraphs/catalog/index.js";
import { ensureDatabase } from "../platform/db.js";
import { loadConfig } from "../platform/config.js";
import { ServiceSigner } from "../platform/service-auth.js";
import { loadBenchSettings } from "./config.js";

/**
 * The sendGift owner read: latency of giftForSending uncached (HTTP + 1 SQL) and cached, and the
 * delay from a committed catalog change to the client serving the new price (NOTIFY path).
 * Needs DATABASE_URL (a scratch database is created and dropped). `node dist/bench/catalog-client.js`
 */
const admin = loadBenchSettings().databaseUrl;
if (!admin) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const dbName = `bench_catalog_${process.pid}`;
const url = await ensureDatabase(admin, dbName);
const catalog = await startCatalog({ databaseUrl: url, port: 0, poolSize: 8 });
const ids: string[] = (await catalog.dataSource.query(`SELECT id FROM catalog.gifts ORDER BY sort_order`)).map((r: { id: string }) => r.id);

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(3));
};
const summary = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 50), p90: pct(xs, 90), p99: pct(xs, 99), max: pct(xs, 100) });
const now = () => performance.now();

async function timeCalls(client: CatalogClient, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = now();
    await client.giftForSending(ids[i % ids.length], "US");
    out.push(now() - t);
  }
  return out;
}

const signer = new ServiceSigner(loadConfig(), "wallet");
const uncached = new CatalogClient({ url: catalog.url, databaseUrl: url, ttlMs: 0, signer });
await uncached.start();
await timeCalls(uncached, 100); // warm-up
const uncachedMs = await timeCalls(uncached, 1000);

const cached = new CatalogClient({ url: catalog.url, databaseUrl: url, ttlMs: 60_000, signer });
await cached.start();
await timeCalls(cached, ids.length);
const cachedMs = await timeCalls(cached, 10_000);

// Batching: 200 concurrent reads of distinct (gift, region) pairs in one tick.
const regions = ["US", "JP", "BR", "DE", "IN", "ID", "GB", "FR", "MX", "KR"];
cached.invalidate();
const before = cached.stats.requests;
const tb = now();
await Promise.all(Array.from({ length: 200 }, (_, i) => cached.giftForSending(ids[i % ids.length], regions[i % regions.length])));
const batch = { reads: 200, httpRequests: cached.stats.requests - before, ms: Number((now() - tb).toFixed(3)) };

// Change → visible: commit a price change, then poll the (caching) client until it serves it.
const writer = new pg.Client({ connectionString: url });
await writer.connect();
const visibleMs: number[] = [];
for (let i = 0; i < 50; i++) {
  const id = ids[i % ids.length];
  await cached.giftForSending(id, "US");
  const price = 100_000 + i;
  await writer.query(`INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason) VALUES ($1, $2, date_trunc('milliseconds', clock_timestamp()), 'UPDATE')`, [id, price]);
  const t = now();
  while ((await cached.giftForSending(id, "US"))?.coinCost !== price) await new Promise((r) => setImmediate(r));
  visibleMs.push(now() - t);
}

const result = {
  date: new Date().toISOString(),
  machine: "2 cores shared, loopback, PostgreSQL on 127.0.0.1",
  giftForSendingUncachedMs: summary(uncachedMs),
  giftForSendingCachedMs: summary(cachedMs),
  batching: batch,
  changeVisibleAfterCommitMs: summary(visibleMs),
};
console.log(JSON.stringify(result, null, 2));
const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
mkdirSync(path.join(root, "bench/results"), { recursive: true });
writeFileSync(path.join(root, "bench/results/catalog-client.json"), JSON.stringify(result, null, 2) + "\n");

await writer.end();
await cached.stop();
await uncached.stop();
await catalog.stop();
const c = new pg.Client({ connectionString: admin });
await c.connect();
await c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
await c.end();
