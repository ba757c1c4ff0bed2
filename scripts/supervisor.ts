import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inheritedEnv } from "./config.js";

/**
 * Runs each service as its own process (as production does), so one can be killed
 * and restarted by an operator, a fault test or a benchmark. Used by `npm start`,
 * test/reliability and bench/.
 */
export type ServiceName = "wallet" | "catalog" | "earnings" | "gateway" | "web";
/** The services every stack runs; the web app's static server is optional (npm start, browser tests). */
export type CoreService = Exclude<ServiceName, "web">;

export const ENTRIES: Record<ServiceName, string> = {
  wallet: "dist/subgraphs/wallet/index.js",
  catalog: "dist/subgraphs/catalog/index.js",
  earnings: "dist/subgraphs/earnings/index.js",
  gateway: "dist/gateway/index.js",
  web: "dist/web/server.js",
};

export const ROOT = path.resolve(fileURLToPath(new URL(".", import.meta.url)), fileURLToPath(import.meta.url).includes("/dist/") ? "../.." : "..");

export interface SupervisorOptions {
  databaseUrl: string;
  /** With `web`, startAll also starts the web app's server (its own origin) after the gateway. */
  ports: Record<CoreService, number> & { web?: number };
  /** Extra environment for every service (NODE_ENV, LOG_LEVEL, ...). */
  env?: NodeJS.ProcessEnv;
  /** Restart a service that exits on its own (npm start); tests restart explicitly. */
  restartOnExit?: boolean;
  stdio?: "inherit" | "ignore";
  /** Migrate at service start (default false: the caller migrated once up front). */
  migrate?: boolean;
}

export class Supervisor {
  private readonly children = new Map<ServiceName, ChildProcess>();
  private stopping = false;

  constructor(private readonly opts: SupervisorOptions) {}

  url(name: ServiceName): string {
    return `http://127.0.0.1:${this.opts.ports[name]}/graphql`;
  }

  env(): NodeJS.ProcessEnv {
    const p = this.opts.ports;
    return {
      ...inheritedEnv(),
      DATABASE_URL: this.opts.databaseUrl,
      MIGRATE: this.opts.migrate ? "true" : "false",
      GATEWAY_PORT: String(p.gateway),
      WALLET_PORT: String(p.wallet),
      CATALOG_PORT: String(p.catalog),
      EARNINGS_PORT: String(p.earnings),
      ...(p.web !== undefined ? { WEB_PORT: String(p.web) } : {}),
      WALLET_URL: this.url("wallet"),
      CATALOG_URL: this.url("catalog"),
      EARNINGS_URL: this.url("earnings"),
      ...this.opts.env,
    };
  }

  start(name: ServiceName): ChildProcess {
    const child = spawn(process.execPath, ["--enable-source-maps", path.join(ROOT, ENTRIES[name])], {
      cwd: ROOT,
      env: this.env(),
      stdio: ["ignore", this.opts.stdio ?? "inherit", this.opts.stdio ?? "inherit"],
    });
    this.children.set(name, child);
    child.on("exit", (code, signal) => {
      if (this.stopping || !this.opts.restartOnExit || this.children.get(name) !== child) return;
      console.error(`[supervisor] ${name} exited (${signal ?? code}); restarting in 1s`);
      setTimeout(() => !this.stopping && this.start(name), 1000);
    });
    return child;
  }

  async waitHealthy(name: ServiceName, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const child = this.children.get(name);
    while (Date.now() < deadline) {
      if (child && child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode} while starting`);
      const ok = await fetch(`http://127.0.0.1:${this.opts.ports[name]}/health`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${name} on :${this.opts.ports[name]} did not become healthy in ${timeoutMs} ms`);
  }

  /** Subgraphs first (in parallel), then the gateway. */
  async startAll(): Promise<void> {
    const subgraphs: ServiceName[] = ["catalog", "earnings", "wallet"];
    for (const s of subgraphs) this.start(s);
    await Promise.all(subgraphs.map((s) => this.waitHealthy(s)));
    this.start("gateway");
    await this.waitHealthy("gateway");
    if (this.opts.ports.web !== undefined) {
      this.start("web");
      await this.waitHealthy("web");
    }
  }

  /** SIGKILL: no graceful shutdown, as a crash or OOM kill would. */
  async kill(name: ServiceName, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const child = this.children.get(name);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    this.children.delete(name);
    child.kill(signal);
    await exited;
  }

  async restart(name: ServiceName): Promise<void> {
    await this.kill(name);
    this.start(name);
    await this.waitHealthy(name);
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    // Gateway first so clients stop arriving, then the subgraphs finish in-flight work.
    for (const group of [["web", "gateway"], ["wallet", "catalog", "earnings"]] as ServiceName[][]) {
      await Promise.all(
        group.map(async (name) => {
          const c = this.children.get(name);
          if (!c || c.exitCode !== null || c.signalCode !== null) return;
          const exited = new Promise<void>((r) => c.once("exit", () => r()));
          c.kill("SIGTERM");
          const force = setTimeout(() => c.kill("SIGKILL"), 10_000);
          await exited;
          clearTimeout(force);
        }),
      );
    }
    this.children.clear();
  }
}
