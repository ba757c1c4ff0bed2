import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import os from "node:os";
import pg from "pg";
import type { AuthUser } from "../platform/auth.js";
import { createDataSource, ensureDatabase, migrate } from "../platform/db.js";
import { loadBenchSettings } from "./config.js";
import { ensureEventLog } from "../platform/eventlog.js";
import { MoneyRateLimiter, MONEY_MUTATION_LIMITS } from "../platform/money-rate-limit.js";
import { entities, migrations } from "../subgraphs/wallet/db/index.js";
import { AccountService } from "../subgraphs/wallet/domain/accounts.js";
import { GiftingService, parseSendGiftInput, type GiftPricing, type HostDirectory } from "../subgraphs/wallet/domain/gifting.js";
import { loadSendBatchConfig } from "../subgraphs/wallet/config.js";

/**
 * The wallet's sendGift path alone — GiftingService.send plus the balance read the resolver does —
 * with the owner reads stubbed (no HTTP, no gateway): sends/s and CPU per send of this process
 * (the wallet) and of the PostgreSQL backends serving it, at a few concurrencies (closed loop).
 * It isolates what group commit changes from the gateway and the GraphQL layers, which a shared
 * machine makes noisy. Needs DATABASE_URL (a scratch database is created and dropped).
 *   SEND_BATCH_MAX_WAIT_MS=0 node dist/bench/wallet-sends.js [seconds=8] [concurrencies=1,16,64]
 */
const admin = loadBenchSettings().databaseUrl;
if (!admin) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const seconds = Number(process.argv[2] ?? 8);
const concurrencies = (process.argv[3] ?? "1,16,64").split(",").map(Number);
const SENDERS = 200;
const GIFT = randomUUID();
const TICK = 100; // /proc CPU ticks per second (USER_HZ)

const pricing: GiftPricing = { giftForSending: async (id) => ({ id, name: "Rose", coinCost: 1, streakable: true, sendable: true, reason: null }) };
const hosts: HostDirectory = {
  hostForGifting: async (id) => ({ id, canReceive: true }),
  liveSession: async (id) => ({ id, hostId: "host-0", live: true }),
};

function backendCpuMs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      ticks += Number(f[11]) + Number(f[12]);
    } catch {
      // exited
    }
  }
  return (ticks * 1000) / TICK;
}

const dbName = `bench_wallet_sends_${process.pid}`;
const url = await ensureDatabase(admin, dbName);
const { dataSource: ds } = createDataSource({ url, schema: "wallet", entities, migrations, poolSize: 10 });
await ds.initialize();
await migrate(ds, "wallet");
await ensureEventLog(ds);
await ds.query(`INSERT INTO wallet.accounts (user_id, coins) SELECT 'sender-' || g, 1000000000 FROM generate_series(0, $1 - 1) g`, [SENDERS]);
// Rate limits as production has them would refuse a closed loop: the bench raises the burst, the rule's cost is the same.
const limiter = new MoneyRateLimiter("wallet", { ...MONEY_MUTATION_LIMITS, sendGift: { capacity: 1_000_000, refillPerSecond: 1_000_000 } });
// SEND_BATCH_* as the wallet reads them (bench A/B: 1 = no batching).
const batch = loadSendBatchConfig();
const gifting = new GiftingService(ds, { pricing, hosts, limiter, batch });
const accounts = new AccountService(ds);
const users: AuthUser[] = Array.from({ length: SENDERS }, (_, i) => ({ id: `sender-${i}`, name: `Sender ${i}`, roles: ["viewer"], region: "US", adult: true }) as AuthUser);
const admin2 = new pg.Client({ connectionString: url });
await admin2.connect();

const results: unknown[] = [];
for (const c of concurrencies) {
  let sent = 0;
  let errors = 0;
  let next = 0;
  const until = performance.now() + seconds * 1000;
  const warm = performance.now() + 1000;
  let mark: { t: number; sent: number; cpu: NodeJS.CpuUsage; pg: number; pids: number[] } | null = null;
  const worker = async () => {
    while (performance.now() < until) {
      const user = users[next++ % SENDERS];
      const cmd = parseSendGiftInput({ giftId: GIFT, hostId: `host-${next % 50}`, idempotencyKey: randomUUID() });
      try {
        await gifting.send(user, cmd);
        // As the resolver reads it (balanceNow where it exists, balances() before it did).
        const reader = accounts as unknown as { balanceNow?: (id: string) => Promise<unknown>; balances(ids: string[]): Promise<unknown> };
        await (reader.balanceNow ? reader.balanceNow(user.id) : reader.balances([user.id]));
        sent++;
      } catch {
        errors++;
      }
      if (!mark && performance.now() >= warm) {
        const pids = (await admin2.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName])).rows.map((r) => r.pid as number);
        mark = { t: performance.now(), sent, cpu: process.cpuUsage(), pg: backendCpuMs(pids), pids };
      }
    }
  };
  await Promise.all(Array.from({ length: c }, worker));
  const m = mark!;
  const cpu = process.cpuUsage(m.cpu);
  const n = sent - m.sent;
  const wallMs = performance.now() - m.t;
  const row = {
    concurrency: c,
    sendsPerSec: Math.round((n / wallMs) * 1000),
    walletCpuMsPerSend: Number(((cpu.user + cpu.system) / 1000 / n).toFixed(3)),
    postgresCpuMsPerSend: Number(((backendCpuMs(m.pids) - m.pg) / n).toFixed(3)),
    errors,
    batches: "batches" in gifting ? (gifting as unknown as { batches: { stats(): unknown } }).batches.stats() : null,
  };
  results.push(row);
  console.log(JSON.stringify(row));
}
console.log(JSON.stringify({ loadavg: os.loadavg(), batch, results }));
await admin2.end();
await ds.destroy();
const drop = new pg.Client({ connectionString: admin });
await drop.connect();
await drop.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
await drop.end();
process.exit(0);
