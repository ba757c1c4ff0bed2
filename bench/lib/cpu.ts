import pg from "pg";
import { existsSync, readdirSync, readFileSync } from "node:fs";

/**
 * CPU time actually consumed per process group (Linux /proc), so a scenario can report
 * "CPU ms per operation" for the gateway, each subgraph, PostgreSQL and the load generator.
 * Unlike wall-clock figures, these hold up on a shared, noisy machine, and they give the
 * 2-core ceiling directly: cores × 1000 ÷ (total CPU ms per operation).
 */
const TICK_MS = 10; // USER_HZ is 100 on Linux

function ticks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
  } catch {
    return 0;
  }
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  }
}

/** The postmaster and all its children (backends, walwriter, checkpointer, ...). */
export function postgresPids(postmasterPid: number | null): number[] {
  if (!postmasterPid || !existsSync("/proc")) return [];
  const pids = [postmasterPid];
  for (const d of readdirSync("/proc")) {
    const pid = Number(d);
    if (Number.isInteger(pid) && parentOf(pid) === postmasterPid) pids.push(pid);
  }
  return pids;
}

export type Groups = Record<string, () => number[]>;

export interface CpuWindow {
  /** CPU ms per group over the window. */
  ms: Record<string, number>;
  wallMs: number;
}

/** Starts a measurement window; call the returned function to end it. */
export function cpuWindow(groups: Groups): () => CpuWindow {
  const start = performance.now();
  const startSelf = process.cpuUsage();
  // Per pid, so backends that come and go are counted from when they were first seen.
  const before = new Map<number, number>();
  for (const pids of Object.values(groups)) for (const pid of pids()) before.set(pid, ticks(pid));
  return () => {
    const ms: Record<string, number> = {};
    for (const [name, pids] of Object.entries(groups)) {
      let t = 0;
      for (const pid of pids()) t += ticks(pid) - (before.get(pid) ?? 0);
      ms[name] = t * TICK_MS;
    }
    const self = process.cpuUsage(startSelf);
    ms.loadGenerator = Math.round((self.user + self.system) / 1000);
    return { ms, wallMs: Math.round(performance.now() - start) };
  };
}

/** CPU ms per operation by group, and the share of the machine's cores used. */
export function perOperation(w: CpuWindow, operations: number, cores: number) {
  const per: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of Object.entries(w.ms)) {
    per[k] = operations > 0 ? Math.round((v / operations) * 1000) / 1000 : 0;
    if (k !== "loadGenerator") total += v;
  }
  const all = total + (w.ms.loadGenerator ?? 0);
  return {
    cpuMsPerOperation: per,
    /** Services + PostgreSQL, without the load generator. */
    stackCpuMsPerOperation: operations > 0 ? Math.round((total / operations) * 1000) / 1000 : null,
    /** Busy cores over the window (everything we started, load generator included). */
    coresBusy: Math.round((all / w.wallMs) * 100) / 100,
    /** If the stack had all the machine's cores: operations/s at 100% CPU. */
    cpuCeilingPerSec: total > 0 ? Math.round((cores * 1000 * operations) / total) : null,
  };
}

/**
 * The service a PostgreSQL backend works for, from the application_name its pool or listener gave it
 * (platform/db.ts `gift-<schema>`, listeners `<service>-…`, the consumer's `consumer-…` and `claims:<schema>:…`).
 */
export function clientOf(applicationName: string): string {
  const m = /^(?:gift-|consumer-|claims:)?(gateway|wallet|catalog|earnings)\b/.exec(applicationName);
  return m ? m[1] : "other";
}

async function backendsByClient(databaseUrl: string): Promise<Map<number, string>> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ pid: number; app: string }>(
      `SELECT pid, application_name AS app FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`,
    );
    return new Map(rows.map((r) => [r.pid, clientOf(r.app)]));
  } finally {
    await c.end();
  }
}

/**
 * PostgreSQL's CPU split by the service whose connection ran it (so a scenario can tell the wallet's
 * statements from the credit consumer's). Backends of the bench database only; one opened during the
 * window counts from its start. Async because it asks pg_stat_activity which backend is whose.
 */
export async function postgresByClientWindow(databaseUrl: string): Promise<() => Promise<Record<string, number>>> {
  const before = new Map<number, number>();
  for (const pid of (await backendsByClient(databaseUrl)).keys()) before.set(pid, ticks(pid));
  return async () => {
    const ms: Record<string, number> = {};
    for (const [pid, client] of await backendsByClient(databaseUrl)) ms[client] = (ms[client] ?? 0) + (ticks(pid) - (before.get(pid) ?? 0)) * TICK_MS;
    return ms;
  };
}
