import "reflect-metadata";
import { loadConfig } from "../platform/config.js";
import { migrateAndSeed, resolveDatabase } from "./database.js";
import { ROOT, Supervisor } from "./supervisor.js";

/**
 * `npm start`: PostgreSQL (embedded unless DATABASE_URL), migrations and seed, then
 * each service as its own process, restarted if it dies. Ctrl-C stops everything,
 * PostgreSQL included.
 */
const started = Date.now();
const config = loadConfig();
const db = await resolveDatabase(ROOT);
await migrateAndSeed(db.url);

const supervisor = new Supervisor({ databaseUrl: db.url, ports: { ...config.ports, web: config.webPort }, restartOnExit: true });
let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  console.log("\n[start] stopping…");
  await supervisor.stopAll();
  await db.embedded?.stop();
  console.log("[start] stopped");
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  await supervisor.startAll();
} catch (e) {
  console.error(`[start] ${(e as Error).message}`);
  await shutdown(1);
}

const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`
Gift economy is up in ${seconds}s${db.embedded ? ` (embedded PostgreSQL on :${db.embedded.port}, data in .data/pg)` : ""}
  web app   ${config.webAppUrl}   (live now, rooms, studio, overlay; dev sign-in)
  gateway   http://localhost:${config.ports.gateway}/graphql   (graphql-ws: ws://localhost:${config.ports.gateway}/graphql)
  wallet    http://localhost:${config.ports.wallet}/graphql
  catalog   http://localhost:${config.ports.catalog}/graphql
  earnings  http://localhost:${config.ports.earnings}/graphql
  token     npm run token -- --sub alice --roles viewer,host --region US --name Alice
Ctrl-C stops everything.`);
