import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { createDataSource, ensureDatabase, migrate } from "../platform/db.js";
import { ensureEventLog } from "../platform/eventlog.js";
import { GIFT_SENT, type GiftSentPayload } from "../platform/events.js";
import { EarningsClient } from "../subgraphs/earnings/transport/owner-reads-client.js";
import { GiftCreditConsumer } from "../subgraphs/earnings/transport/gift-credit-consumer.js";
import { entities, migrations } from "../subgraphs/earnings/db/index.js";
import { startEarnings } from "../subgraphs/earnings/index.js";
import { mintToken } from "../platform/auth.js";
import { loadConfig } from "../platform/config.js";
import { SERVICE_HEADER, ServiceSigner } from "../platform/service-auth.js";
import { loadBenchSettings } from "./config.js";

/**
 * The gift.sent consumer: credits per second for one hot host (everything lands on one
 * balance row) and for gifts spread over many hosts, batched (500 per transaction) versus
 * one gift per transaction; plus the earnings owner read (uncached / cached / change → visible).
 * Needs DATABASE_URL (scratch databases are created and dropped). `node dist/bench/earnings-consumer.js`
 */
const admin = loadBenchSettings().databaseUrl;
if (!admin) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const now = () => performance.now();
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(3));
};
const summary = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 50), p90: pct(xs, 90), p99: pct(xs, 99), max: pct(xs, 100) });

async function scenario(label: string, gifts: number, hosts: number, batchSize: number) {
  const dbName = `bench_earn_${label}_${process.pid}`;
  const url = await ensureDatabase(admin!, dbName);
  const { dataSource: ds } = createDataSource({ url, schema: "earnings", entities, migrations, poolSize: 4 });
  await ds.initialize();
  await migrate(ds, "earnings");
  await ensureEventLog(ds);
  // Produce in bulk (one INSERT), the way many sendGift transactions would have left them.
  const payloads: GiftSentPayload[] = Array.from({ length: gifts }, (_, i) => ({
    giftEventId: randomUUID(),
    senderId: `viewer-${i % 1000}`,
    senderName: `Viewer ${i % 1000}`,
    hostId: `host-${i % hosts}`,
    liveSessionId: null,
    giftId: "rose",
    unitCost: 1 + (i % 50),
    quantity: 1,
    coins: 1 + (i % 50),
    comboId: null,
    sentAt: new Date().toISOString(),
  }));
  await ds.query(
    `INSERT INTO eventlog.events (event_id, type, key, payload) SELECT (p->>'giftEventId')::uuid, $1, p->>'hostId', p FROM jsonb_array_elements($2::jsonb) p`,
    [GIFT_SENT, JSON.stringify(payloads)],
  );
  const consumer = new GiftCreditConsumer(ds, { batchSize });
  await consumer.consumer.ensure();
  // The event log serves only events older than every running transaction in the cluster: wait for that first.
  while (!(await ds.query(`SELECT bool_and(tx < pg_snapshot_xmin(pg_current_snapshot())) AS ok FROM eventlog.events`))[0].ok) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const t = now();
  const applied = await consumer.drain();
  const ms = now() - t;
  const [{ entries }] = await ds.query(`SELECT count(*)::int AS entries FROM earnings.diamond_ledger`);
  const [{ exact }] = await ds.query(
    `SELECT bool_and(c.lifetime_diamonds = x.d) AS exact FROM earnings.creators c JOIN (SELECT host_id, sum(diamonds) AS d FROM earnings.gift_credits GROUP BY 1) x ON x.host_id = c.id`,
  );
  await ds.destroy();
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await client.end();
  return { gifts, hosts, batchSize, applied, ms: Number(ms.toFixed(1)), creditsPerSecond: Math.round((applied / ms) * 1000), ledgerEntries: entries, totalsExact: exact };
}

async function ownerRead() {
  const dbName = `bench_earn_client_${process.pid}`;
  const url = await ensureDatabase(admin!, dbName);
  const earnings = await startEarnings({ databaseUrl: url, port: 0, poolSize: 4 });
  const token = await mintToken({ sub: "bench-host", roles: ["viewer", "host"] });
  const signer = new ServiceSigner(loadConfig(), "wallet");
  await fetch(earnings.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, [SERVICE_HEADER]: await signer.header("earnings") },
    body: JSON.stringify({ query: `mutation { startLiveSession(input: { title: "bench" }) { liveSession { id } } }` }),
  });
  const uncached = new EarningsClient({ url: earnings.url, databaseUrl: url, ttlMs: 0, signer });
  const cached = new EarningsClient({ url: earnings.url, databaseUrl: url, ttlMs: 60_000, signer });
  await cached.start();
  const time = async (c: EarningsClient, n: number) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = now();
      await c.hostForGifting("bench-host");
      out.push(now() - t);
    }
    return out;
  };
  await time(uncached, 100);
  const uncachedMs = await time(uncached, 1000);
  await time(cached, 1);
  const cachedMs = await time(cached, 10_000);
  // Change → visible: flip the creator's adult claim and poll the caching client until it shows.
  const visible: number[] = [];
  for (let i = 0; i < 30; i++) {
    await cached.hostForGifting("bench-host");
    const want = i % 2 === 0 ? false : true;
    const t = now();
    await earnings.dataSource.query(`UPDATE earnings.creators SET can_receive_gifts = $1 WHERE id = 'bench-host'`, [want]);
    while ((await cached.hostForGifting("bench-host"))?.canReceive !== want) await new Promise((r) => setTimeout(r, 1));
    visible.push(now() - t);
  }
  await cached.stop();
  await earnings.stop();
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
  await client.end();
  return { hostForGiftingUncachedMs: summary(uncachedMs), hostForGiftingCachedMs: summary(cachedMs), changeVisibleAfterCommitMs: summary(visible) };
}

const results = {
  date: new Date().toISOString(),
  machine: "2 cores shared with other work, loopback, PostgreSQL on 127.0.0.1",
  consumer: {
    hotHostBatched: await scenario("hot", 20_000, 1, 500),
    hotHostOnePerTransaction: await scenario("hot1", 2_000, 1, 1),
    spreadBatched: await scenario("spread", 20_000, 200, 500),
  },
  ownerRead: await ownerRead(),
};
console.log(JSON.stringify(results, null, 2));
const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
mkdirSync(path.join(root, "bench/results"), { recursive: true });
writeFileSync(path.join(root, "bench/results/earnings-consumer.json"), JSON.stringify(results, null, 2) + "\n");
