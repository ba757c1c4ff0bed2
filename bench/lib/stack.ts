import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { ensureDatabase } from "../../platform/db.js";
import { migrateAndSeed } from "../../scripts/database.js";
import { freePort, startEmbeddedPostgres, type EmbeddedServer } from "../../scripts/embedded-pg.js";
import { ROOT, Supervisor, type CoreService, type ServiceName } from "../../scripts/supervisor.js";
import type { ChildProcess } from "node:child_process";
import { postgresPids, type Groups } from "./cpu.js";
import { loadBenchSettings } from "../config.js";

/**
 * The stack as production runs it: PostgreSQL (DATABASE_URL's server, or an embedded one in
 * a temporary folder), a FRESH database for this run, migrations + seed, then each service
 * as its own `node dist/...` process with NODE_ENV=production and real secrets. The load
 * generator is the calling process, never one of the services.
 */
export interface BenchStack {
  adminUrl: string;
  databaseUrl: string;
  databaseName: string;
  embedded: boolean;
  jwtSecret: string;
  /** SERVICE_SECRET of the services: requests straight to a subgraph must be signed with it (bench/lib/service.ts). */
  serviceSecret: string;
  urls: Record<CoreService, string>;
  supervisor: Supervisor;
  env: Record<string, string>;
  /** Process groups for CPU accounting: each service, and PostgreSQL (postmaster + children). */
  cpuGroups: Groups;
  stop(): Promise<void>;
}

export interface StackOptions {
  /** Extra environment for every service (e.g. NODE_OPTIONS=--cpu-prof). */
  env?: Record<string, string>;
  logLevel?: string;
  /** Services log to this process's stdout/stderr instead of /dev/null. */
  serviceLogs?: boolean;
  /** Embedded PostgreSQL only: preload pg_stat_statements (results: top statements by time). */
  pgStatements?: boolean;
}

/**
 * The stream scenarios take "commit" from the database: each gift event's own commit timestamp
 * (`pg_xact_commit_timestamp(xmin)`, bench/lib/commit-clock.ts), which needs this setting at server start.
 */
const COMMIT_CLOCK = { track_commit_timestamp: "on" };

export async function startBenchStack(opts: StackOptions = {}): Promise<BenchStack> {
  let embedded: EmbeddedServer | null = null;
  let tmp: string | null = null;
  let adminUrl = loadBenchSettings().databaseUrl;
  if (!adminUrl) {
    mkdirSync(path.join(ROOT, ".data"), { recursive: true });
    tmp = mkdtempSync(path.join(os.tmpdir(), "gift-bench-pg-"));
    chmodSync(tmp, 0o755); // PostgreSQL runs as the `postgres` OS user when we are root
    embedded = await startEmbeddedPostgres({ dir: path.join(tmp, "data"), persistent: true, quiet: true, settings: COMMIT_CLOCK }); // we remove the folder ourselves
    adminUrl = embedded.url;
    if (opts.pgStatements) {
      // Diagnosis: per-statement time needs the library preloaded, i.e. a restart of the server.
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'`);
      await c.query(`ALTER SYSTEM SET pg_stat_statements.track = 'all'`);
      await c.end();
      const port = embedded.port;
      await embedded.stop();
      embedded = await startEmbeddedPostgres({ dir: path.join(tmp, "data"), port, persistent: true, quiet: true, settings: COMMIT_CLOCK }); // we remove the folder ourselves
    }
  }
  const databaseName = `gift_bench_${new Date().toISOString().replace(/[^0-9]/g, "").slice(0, 14)}_${randomBytes(3).toString("hex")}`;
  const databaseUrl = await ensureDatabase(adminUrl, databaseName);
  await migrateAndSeed(databaseUrl);

  const ports = {
    gateway: await freePort(),
    wallet: await freePort(),
    catalog: await freePort(),
    earnings: await freePort(),
  };
  const jwtSecret = randomBytes(32).toString("base64url");
  const serviceSecret = randomBytes(32).toString("base64url");
  const env: Record<string, string> = {
    NODE_ENV: "production",
    JWT_SECRET: jwtSecret,
    SERVICE_SECRET: serviceSecret,
    PAYMENT_WEBHOOK_SECRET: `whsec_bench_${randomBytes(16).toString("hex")}`,
    LOG_LEVEL: opts.logLevel ?? "info",
    // The load generator is one address with thousands of viewers (scenario 6): raise the
    // per-address and per-user WebSocket caps, keep every other bound as production has it.
    WS_MAX_SOCKETS_PER_ADDRESS: "1000000",
    WS_MAX_SOCKETS_PER_USER: "1000000",
    WS_INTERNAL_MAX_SOCKETS_PER_ADDRESS: "1000000",
    ...opts.env,
  };
  const supervisor = new Supervisor({ databaseUrl, ports, env, stdio: opts.serviceLogs ? "inherit" : "ignore", migrate: false });
  await supervisor.startAll();
  const urls = {
    gateway: supervisor.url("gateway"),
    wallet: supervisor.url("wallet"),
    catalog: supervisor.url("catalog"),
    earnings: supervisor.url("earnings"),
  };
  // The Supervisor keeps its children private; the bench only reads their pids.
  const children = (supervisor as unknown as { children: Map<ServiceName, ChildProcess> }).children;
  const postmaster = await postmasterPid(adminUrl);
  const pidOf = (name: ServiceName) => () => {
    const pid = children.get(name)?.pid;
    return pid ? [pid] : [];
  };
  const cpuGroups: Groups = {
    gateway: pidOf("gateway"),
    wallet: pidOf("wallet"),
    catalog: pidOf("catalog"),
    earnings: pidOf("earnings"),
    postgres: () => postgresPids(postmaster),
  };
  return {
    cpuGroups,
    adminUrl,
    databaseUrl,
    databaseName,
    embedded: embedded !== null,
    jwtSecret,
    serviceSecret,
    urls,
    supervisor,
    env,
    async stop() {
      await supervisor.stopAll();
      const admin = new pg.Client({ connectionString: adminUrl });
      await admin.connect().then(
        () => admin.query(`DROP DATABASE IF EXISTS "${databaseName}" WITH (FORCE)`).finally(() => admin.end()),
        () => undefined,
      );
      await embedded?.stop().catch(() => undefined);
      if (tmp) rmSync(tmp, { recursive: true, force: true });
    },
  };
}

export async function serverVersion(url: string): Promise<string> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const [{ server_version }] = (await c.query(`SHOW server_version`)).rows;
    return server_version;
  } finally {
    await c.end();
  }
}

/** The server's postmaster pid (the parent of our backend), when PostgreSQL runs on this machine. */
async function postmasterPid(url: string): Promise<number | null> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const [{ pid }] = (await c.query(`SELECT pg_backend_pid() AS pid`)).rows;
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return null;
  } finally {
    await c.end();
  }
}

/** The statements that took the most server time (pg_stat_statements), for --pg-statements. */
export async function topStatements(url: string, limit = 80): Promise<{ calls: number; totalMs: number; meanMs: number; query: string }[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query(`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`);
    const { rows } = await c.query(
      `SELECT calls::int, round(total_exec_time::numeric, 1)::float AS "totalMs", round(mean_exec_time::numeric, 4)::float AS "meanMs", left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
         FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT $1`,
      [limit],
    );
    return rows;
  } finally {
    await c.end();
  }
}
