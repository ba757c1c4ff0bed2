import "reflect-metadata";
import { randomBytes } from "node:crypto";
import autocannon from "autocannon";
import pg from "pg";
import { startGateway } from "../gateway/index.js";
import { PartnerKeyStore } from "../gateway/partner/keys.js";
import { ensureDatabase } from "../platform/db.js";
import { startCatalog } from "../subgraphs/catalog/index.js";
import { startEarnings } from "../subgraphs/earnings/index.js";
import { startWallet } from "../subgraphs/wallet/index.js";
import { composeSupergraph } from "./compose.js";
import { loadScriptSettings } from "./config.js";

/**
 * What the partner endpoint costs over the main one: the same public query through
 * /graphql (anonymous) and /partner/graphql (API key lookup + constant-time compare +
 * one GCRA UPDATE per request), on a throwaway database.
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node dist/scripts/contracts-bench.js [seconds] [connections]
 */
const admin = loadScriptSettings().databaseUrl;
if (!admin) {
  console.error("DATABASE_URL (an admin URL; a throwaway database is created on it) is required");
  process.exit(2);
}
const seconds = Number(process.argv[2] ?? 10);
const connections = Number(process.argv[3] ?? 10);
const name = `gift_contracts_bench_${randomBytes(3).toString("hex")}`;
const url = await ensureDatabase(admin, name);
const opts = { databaseUrl: url, port: 0, poolSize: 8 };
const wallet = await startWallet(opts);
const catalog = await startCatalog(opts);
const earnings = await startEarnings(opts);
const composed = await composeSupergraph();
const gateway = await startGateway({
  port: 0,
  supergraphSdl: composed.supergraph,
  partnerSupergraphSdl: composed.contracts.partner.supergraph,
  databaseUrl: url,
  subgraphUrls: { wallet: wallet.url, catalog: catalog.url, earnings: earnings.url },
});
const store = await PartnerKeyStore.open(url, { migrate: false, poolSize: 1 });
const { key } = await store.create({ partner: "bench", ratePerMinute: 1_000_000, burst: 1_000_000 });
const body = JSON.stringify({ query: "{ giftCategories { key name } }" });

async function run(label: string, target: string, headers: Record<string, string>) {
  const r = await autocannon({ url: target, method: "POST", body, headers: { "content-type": "application/json", ...headers }, duration: seconds, connections });
  const bad = r.non2xx + r.errors;
  console.log(`${label.padEnd(18)} ${Math.round(r.requests.average).toString().padStart(6)} req/s  p50 ${r.latency.p50} ms  p99 ${r.latency.p99} ms  non-2xx/errors ${bad}`);
  return r;
}

try {
  await run("warm-up", gateway.url, {});
  await run("/graphql", gateway.url, {});
  await run("/partner/graphql", gateway.url.replace(/\/graphql$/, "/partner/graphql"), { "x-api-key": key });
} finally {
  await store.close();
  await gateway.stop();
  await Promise.all([wallet.stop(), catalog.stop(), earnings.stop()]);
  const c = new pg.Client({ connectionString: admin });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  await c.end();
}
process.exit(0);
