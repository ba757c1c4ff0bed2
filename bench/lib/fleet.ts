import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "../../scripts/embedded-pg.js";
import { ENTRIES, ROOT } from "../../scripts/supervisor.js";
import { inheritedEnv } from "../config.js";

/**
 * Several instances of each service as local processes on one database (the scale test,
 * bench/scale.ts): what scripts/supervisor.ts does for one instance per service. Instance i of a
 * tier talks to subgraph instance i mod (their count), so calls and room upstreams spread over
 * every instance, as a load balancer would spread them.
 */
export type Tier = "gateway" | "wallet" | "catalog" | "earnings";
const PORT_VAR: Record<Tier, string> = { gateway: "GATEWAY_PORT", wallet: "WALLET_PORT", catalog: "CATALOG_PORT", earnings: "EARNINGS_PORT" };
/** The tiers that run several instances and take random kills; the catalog is one instance here. */
const SCALED: Tier[] = ["gateway", "earnings", "wallet"];
const HEALTHY_WITHIN_MS = 180_000;
/** One /health request: an instance that does not answer within this counts as not healthy (yet). */
const HEALTH_PROBE_MS = 2_000;

interface Instance {
  name: string;
  tier: Tier;
  index: number;
  port: number;
  child: ChildProcess | null;
}

export class Fleet {
  private readonly instances: Instance[] = [];

  constructor(private readonly opts: { databaseUrl: string; counts: Record<Tier, number>; env: Record<string, string> }) {}

  private of(tier: Tier): Instance[] {
    return this.instances.filter((i) => i.tier === tier);
  }

  private url(i: Instance): string {
    return `http://127.0.0.1:${i.port}/graphql`;
  }

  gatewayUrls(): string[] {
    return this.of("gateway").map((i) => this.url(i));
  }

  gatewayWsUrls(): string[] {
    return this.gatewayUrls().map((u) => u.replace(/^http/, "ws"));
  }

  describe(): string {
    return this.instances.map((i) => `${i.name}:${i.port}`).join(" ");
  }

  /** A random running instance of a scaled tier that has more than one instance (of `tiers` only, when given). */
  randomScaledInstance(tiers: readonly Tier[] = SCALED): string {
    const candidates = this.instances.filter((i) => SCALED.includes(i.tier) && tiers.includes(i.tier) && this.opts.counts[i.tier] > 1 && i.child);
    return candidates[Math.floor(Math.random() * candidates.length)].name;
  }

  private env(i: Instance): NodeJS.ProcessEnv {
    const pick = (tier: Tier) => {
      const peers = this.of(tier);
      return this.url(peers[i.index % peers.length]);
    };
    return {
      ...inheritedEnv(),
      ...this.opts.env,
      DATABASE_URL: this.opts.databaseUrl,
      MIGRATE: "false",
      [PORT_VAR[i.tier]]: String(i.port),
      WALLET_URL: pick("wallet"),
      CATALOG_URL: pick("catalog"),
      EARNINGS_URL: pick("earnings"),
    };
  }

  private start(i: Instance): void {
    i.child = spawn(process.execPath, ["--enable-source-maps", path.join(ROOT, ENTRIES[i.tier])], { cwd: ROOT, env: this.env(i), stdio: ["ignore", 2, 2] });
  }

  private answersHealth(i: Instance, timeoutMs: number): Promise<boolean> {
    return fetch(`http://127.0.0.1:${i.port}/health`, { signal: AbortSignal.timeout(timeoutMs) }).then((r) => r.ok, () => false);
  }

  private async healthy(i: Instance): Promise<void> {
    const end = Date.now() + HEALTHY_WITHIN_MS;
    while (Date.now() < end) {
      if (i.child?.exitCode !== null && i.child?.exitCode !== undefined) throw new Error(`${i.name} exited with ${i.child.exitCode} while starting`);
      if (await this.answersHealth(i, HEALTH_PROBE_MS)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${i.name} did not become healthy in ${HEALTHY_WITHIN_MS} ms`);
  }

  /** Subgraphs first, then the gateways (they compose the supergraph from the subgraphs at start). */
  async startAll(): Promise<void> {
    for (const tier of ["catalog", "earnings", "wallet", "gateway"] as Tier[]) {
      for (let k = 0; k < this.opts.counts[tier]; k++) this.instances.push({ name: `${tier}-${k + 1}`, tier, index: k, port: await freePort(), child: null });
    }
    const subgraphs = this.instances.filter((i) => i.tier !== "gateway");
    subgraphs.forEach((i) => this.start(i));
    await Promise.all(subgraphs.map((i) => this.healthy(i)));
    const gateways = this.of("gateway");
    gateways.forEach((i) => this.start(i));
    await Promise.all(gateways.map((i) => this.healthy(i)));
  }

  /** Each running instance of `tier`: its pid and whether /health answered within 2 s. */
  async probe(tier: Tier): Promise<{ name: string; pid: number | undefined; healthy: boolean }[]> {
    return Promise.all(
      this.of(tier).map(async (i) => ({
        name: i.name,
        pid: i.child?.pid,
        healthy: await this.answersHealth(i, HEALTH_PROBE_MS),
      })),
    );
  }

  /** SIGKILL: no graceful shutdown, as a crash or an OOM kill. */
  async kill(name: string): Promise<void> {
    const i = this.instances.find((x) => x.name === name);
    const child = i?.child;
    if (!i || !child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    i.child = null;
    child.kill("SIGKILL");
    await exited;
  }

  /** Back on the same port (clients and peers keep their URLs). */
  async restart(name: string): Promise<void> {
    const i = this.instances.find((x) => x.name === name);
    if (!i) return;
    this.start(i);
    await this.healthy(i);
  }

  async stopAll(): Promise<void> {
    const stop = async (i: Instance) => {
      const child = i.child;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise<void>((r) => child.once("exit", () => r()));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    };
    await Promise.all(this.of("gateway").map(stop));
    await Promise.all(this.instances.filter((i) => i.tier !== "gateway").map(stop));
  }
}
