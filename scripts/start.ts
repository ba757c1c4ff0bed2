import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../subgraphs/common/config.js";
import { migrateAndSeed, resolveDatabase } from "./database.js";

/**
 * `npm start`: PostgreSQL (embedded unless DATABASE_URL), migrations and seed, then
 * each service as its own process so one can be killed and restarted like in production.
 * Ctrl-C stops everything, PostgreSQL included.
 */
const started = Date.now();
const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const config = loadConfig();
const services = [
  { name: "wallet", entry: "dist/subgraphs/wallet/index.js", port: config.ports.wallet },
  { name: "catalog", entry: "dist/subgraphs/catalog/index.js", port: config.ports.catalog },
  { name: "earnings", entry: "dist/subgraphs/earnings/index.js", port: config.ports.earnings },
  { name: "gateway", entry: "dist/gateway/index.js", port: config.ports.gateway },
];

const db = await resolveDatabase(root);
await migrateAndSeed(db.url);

const children = new Map<string, ChildProcess>();
let stopping = false;

function spawnService(svc: (typeof services)[number]): ChildProcess {
  const child = spawn(process.execPath, ["--enable-source-maps", path.join(root, svc.entry)], {
    cwd: root,
    env: { ...process.env, DATABASE_URL: db.url, MIGRATE: "false" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  children.set(svc.name, child);
  child.on("exit", (code, signal) => {
    if (stopping) return;
    // An operator (or a fault test) killed it: bring it back, as a supervisor would.
    console.error(`[start] ${svc.name} exited (${signal ?? code}); restarting in 1s`);
    setTimeout(() => !stopping && spawnService(svc), 1000);
  });
  return child;
}

async function waitHealthy(port: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`service on :${port} did not become healthy`);
}

async function shutdown(code: number): Promise<never> {
  if (stopping) return new Promise<never>(() => undefined);
  stopping = true;
  console.log("\n[start] stopping…");
  await Promise.all(
    [...children.values()].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.exitCode !== null || c.signalCode !== null) return resolve();
          c.once("exit", () => resolve());
          c.kill("SIGTERM");
          setTimeout(() => c.kill("SIGKILL"), 10_000).unref();
        }),
    ),
  );
  await db.embedded?.stop();
  console.log("[start] stopped");
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  const subgraphs = services.filter((s) => s.name !== "gateway");
  for (const s of subgraphs) spawnService(s);
  await Promise.all(subgraphs.map((s) => waitHealthy(s.port)));
  spawnService(services[3]);
  await waitHealthy(config.ports.gateway);
} catch (e) {
  console.error(`[start] ${(e as Error).message}`);
  await shutdown(1);
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`
Gift economy is up in ${seconds}s${db.embedded ? ` (embedded PostgreSQL on :${db.embedded.port}, data in .data/pg)` : ""}
  gateway   http://localhost:${config.ports.gateway}/graphql   (graphql-ws: ws://localhost:${config.ports.gateway}/graphql)
  wallet    http://localhost:${config.ports.wallet}/graphql
  catalog   http://localhost:${config.ports.catalog}/graphql
  earnings  http://localhost:${config.ports.earnings}/graphql
  token     npm run token -- --sub alice --roles viewer,host --region US --name Alice
Ctrl-C stops everything.`);
