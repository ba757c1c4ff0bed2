import "reflect-metadata";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { PartnerKeyError, PartnerKeyStore, type KeyInfo } from "../gateway/partner/keys.js";
import { ensureDatabase } from "../platform/db.js";
import { portIsFree, startEmbeddedPostgres, type EmbeddedServer } from "./embedded-pg.js";
import { loadScriptSettings } from "./config.js";

/**
 * Operator script for partner API keys (stored hashed in the gateway's `partners` schema):
 *   npm run partner-key -- create --name acme [--rate 600] [--burst 100]   prints the key ONCE
 *   npm run partner-key -- list [--name acme]
 *   npm run partner-key -- rotate <keyId> | --name acme [--grace 3600]     prints the new key ONCE
 *   npm run partner-key -- revoke <keyId> | --name acme
 * Database: DATABASE_URL, else the embedded PostgreSQL of `npm start` (.data/pg).
 */
const USAGE = `usage:
  npm run partner-key -- create --name <partner> [--rate <requests/minute, default 600>] [--burst <n>]
  npm run partner-key -- list [--name <partner>] [--json]
  npm run partner-key -- rotate <keyId> | --name <partner> [--grace <seconds the old key keeps working, default 0>]
  npm run partner-key -- revoke <keyId> | --name <partner>`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: "string" },
    rate: { type: "string", default: "600" },
    burst: { type: "string" },
    grace: { type: "string", default: "0" },
    json: { type: "boolean", default: false },
  },
});
const [command, keyId] = positionals;

function int(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n)) {
    console.error(`--${name} must be a whole number, got ${raw}`);
    process.exit(2);
  }
  return n;
}

function row(k: KeyInfo): string {
  const state = k.active ? (k.expiresAt ? `active until ${k.expiresAt.toISOString()}` : "active") : k.revokedAt ? `revoked ${k.revokedAt.toISOString()}` : "expired";
  return `${k.keyId}  ${k.partner.padEnd(16)} ${String(k.ratePerMinute).padStart(6)}/min burst ${String(k.burst).padEnd(5)} created ${k.createdAt.toISOString()}  last used ${k.lastUsedAt?.toISOString() ?? "never"}  ${state}`;
}

async function database(): Promise<{ url: string; embedded: EmbeddedServer | null }> {
  const settings = loadScriptSettings();
  if (settings.databaseUrl) return { url: settings.databaseUrl, embedded: null };
  const port = settings.embeddedPgPort;
  // `npm start` is running: use its server rather than starting a second one on the same data.
  if (!(await portIsFree(port))) return { url: `postgres://postgres:postgres@127.0.0.1:${port}/gift_economy`, embedded: null };
  const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
  const embedded = await startEmbeddedPostgres({ dir: path.join(root, ".data", "pg"), port, quiet: true });
  return { url: await ensureDatabase(embedded.url, "gift_economy"), embedded };
}

if (!["create", "list", "rotate", "revoke"].includes(command ?? "")) {
  console.error(USAGE);
  process.exit(2);
}

const db = await database();
let code = 0;
const store = await PartnerKeyStore.open(db.url, { migrate: true, poolSize: 2 });
try {
  const selector = { keyId, partner: keyId ? undefined : values.name };
  if (command === "create") {
    if (!values.name) throw new PartnerKeyError("create needs --name <partner>");
    const { key, info } = await store.create({ partner: values.name, ratePerMinute: int("rate", values.rate)!, burst: int("burst", values.burst) });
    console.error(`created key ${info.keyId} for ${info.partner} (${info.ratePerMinute}/min, burst ${info.burst}). It is shown once; store it now:`);
    console.log(key);
  } else if (command === "list") {
    const keys = await store.list(values.name);
    if (values.json) console.log(JSON.stringify(keys, null, 2));
    else if (!keys.length) console.error("no partner keys");
    else for (const k of keys) console.log(row(k));
  } else if (command === "rotate") {
    const { key, info, replaced } = await store.rotate(selector, int("grace", values.grace));
    console.error(`rotated ${replaced.keyId} -> ${info.keyId} for ${info.partner}; old key ${replaced.revokedAt ? "revoked now" : `works until ${replaced.expiresAt?.toISOString()}`}. New key (shown once):`);
    console.log(key);
  } else {
    const revoked = await store.revoke(selector);
    for (const k of revoked) console.log(`revoked ${row(k)}`);
  }
} catch (e) {
  if (!(e instanceof PartnerKeyError)) throw e;
  console.error(`partner-key: ${e.message}`);
  code = 1;
} finally {
  await store.close();
  await db.embedded?.stop();
}
process.exit(code);
