import "reflect-metadata";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { mintToken } from "../platform/auth.js";
import { loadConfig } from "../platform/config.js";
import { SERVICE_HEADER, ServiceSigner } from "../platform/service-auth.js";
import { ensureDatabase } from "../platform/db.js";
import { startWallet } from "../subgraphs/wallet/index.js";
import { loadBenchSettings } from "./config.js";

/**
 * Recharge on the wallet subgraph over HTTP (sandbox provider, pm_card_ok): sequential latency,
 * throughput under concurrency, a 50-call burst on one idempotency key, and webhook apply latency.
 * Needs DATABASE_URL (a scratch database is created and dropped). `node dist/bench/recharge.js`
 */
const admin = loadBenchSettings().databaseUrl;
if (!admin) {
  console.error("DATABASE_URL is required");
  process.exit(2);
}
const dbName = `bench_recharge_${process.pid}`;
const url = await ensureDatabase(admin, dbName);
const wallet = await startWallet({ databaseUrl: url, port: 0, poolSize: 10 });
wallet.services.recharge.velocity.maxOrdersPerHour = 1_000_000;
wallet.services.recharge.velocity.maxCoinsPerDay = Number.MAX_SAFE_INTEGER;
// And the per-user burst guard (10 at once, then 1 per 6 s): this measures recharge, not throttling.
wallet.services.recharge.limiter.rules.recharge = { capacity: 1e9, refillPerSecond: 1e9 };
// Settlement is driven below, so the webhook timing is ours, not the sandbox's timer.
const devSandbox = process.argv.includes("--dev-sandbox");
if (!devSandbox) {
  wallet.services.payments.options.autoSettleMs = null;
  wallet.services.payments.options.autoWebhooks = false;
}

const RECHARGE = `mutation($i: RechargeInput!) { recharge(input: $i) { order { id status } userErrors { code } } }`;
const tokens = await Promise.all(Array.from({ length: 64 }, (_, i) => mintToken({ sub: `bench-${i}`, adult: true })));
// Straight to the wallet, signed as the gateway would (subgraphs answer only signed callers).
const signer = new ServiceSigner(loadConfig(), "gateway");
let seq = 0;
async function rechargeOnce(token: string, key = `b-${++seq}`, paymentToken = "pm_card_ok"): Promise<{ id: string; status: string }> {
  const res = await fetch(wallet.url, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}`, [SERVICE_HEADER]: await signer.header("wallet") },
    body: JSON.stringify({ query: RECHARGE, variables: { i: { customCoins: 100, paymentMethod: { type: "CARD", token: paymentToken }, idempotencyKey: key } } }),
  });
  const body: any = await res.json();
  const o = body.data?.recharge?.order;
  if (!o) throw new Error(JSON.stringify(body));
  return o;
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Number(s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))].toFixed(2));
};
const summary = (xs: number[]) => ({ n: xs.length, p50: pct(xs, 50), p90: pct(xs, 90), p99: pct(xs, 99), max: pct(xs, 100) });
const now = () => performance.now();

for (let i = 0; i < 50; i++) await rechargeOnce(tokens[i % tokens.length]); // warm-up

const sequential: number[] = [];
for (let i = 0; i < 300; i++) {
  const t = now();
  await rechargeOnce(tokens[i % tokens.length]);
  sequential.push(now() - t);
}

async function throughput(concurrency: number, total: number, sameUser: boolean) {
  let next = 0;
  const t = now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, w) => {
      while (next < total) {
        next++;
        await rechargeOnce(sameUser ? tokens[0] : tokens[w % tokens.length]);
      }
    }),
  );
  const s = (now() - t) / 1000;
  return { concurrency, orders: total, seconds: Number(s.toFixed(2)), ordersPerSecond: Math.round(total / s) };
}
const spread = await throughput(32, 1500, false);
const oneUser = await throughput(32, 600, true);

const before = wallet.services.payments.stats.paymentsCreated;
const tb = now();
const burst = await Promise.all(Array.from({ length: 50 }, () => rechargeOnce(tokens[1], "bench-one-key")));
const burstResult = { calls: 50, distinctOrders: new Set(burst.map((o) => o.id)).size, providerCharges: wallet.services.payments.stats.paymentsCreated - before, ms: Number((now() - tb).toFixed(1)) };

// Webhook: pending async orders settled by signed webhooks (HTTP + HMAC + one transaction each).
const pending = await Promise.all(Array.from({ length: 200 }, (_, i) => rechargeOnce(tokens[i % tokens.length], `async-${i}`, "pm_async_ok")));
const paymentIds: string[] = (await wallet.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = ANY($1::uuid[])`, [pending.map((o) => o.id)])).map((r: any) => r.provider_payment_id);
if (devSandbox) await new Promise((r) => setTimeout(r, 8000)); // the sandbox settles by itself after 3 s
const webhookMs: number[] = [];
for (const id of paymentIds) {
  const t = now();
  await wallet.services.payments.settle(id);
  webhookMs.push(now() - t);
}
const [{ ok }] = await wallet.dataSource.query(`SELECT count(*)::int AS ok FROM wallet.recharge_orders WHERE id = ANY($1::uuid[]) AND status = 'SUCCEEDED'`, [pending.map((o) => o.id)]);
const [{ consistent }] = await wallet.dataSource.query(
  `SELECT bool_and(a.coins = l.s) AS consistent FROM wallet.accounts a JOIN (SELECT user_id, sum(amount) AS s FROM wallet.ledger_entries GROUP BY user_id) l USING (user_id)`,
);

const result = {
  date: new Date().toISOString(),
  machine: "2 cores shared with other work, loopback, PostgreSQL on 127.0.0.1; wallet subgraph direct (no gateway)",
  rechargeSequentialMs: summary(sequential),
  throughputSpreadUsers: spread,
  throughputOneUser: oneUser,
  burstOneKey: burstResult,
  webhookSettleMs: { ...summary(webhookMs), succeeded: ok },
  balancesEqualLedgers: consistent,
};
console.log(JSON.stringify(result, null, 2));
const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
mkdirSync(path.join(root, "bench/results"), { recursive: true });
writeFileSync(path.join(root, "bench/results/recharge.json"), JSON.stringify(result, null, 2) + "\n");

await wallet.stop();
const c = new pg.Client({ connectionString: admin });
await c.connect();
await c.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
await c.end();
