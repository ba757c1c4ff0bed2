import "reflect-metadata";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { migrateAndSeed, resolveDatabase } from "./database.js";

/** `npm run seed`: migrate and seed (catalog, coin packages) on DATABASE_URL or the embedded server. */
const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const db = await resolveDatabase(root);
try {
  await migrateAndSeed(db.url);
  console.log("migrated and seeded");
} finally {
  await db.embedded?.stop();
}
