import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { ensureDatabase } from "../../platform/db.js";

/** A fresh database for one test file, so files never collide (nor with `npm start`). */
export async function createTestDatabase(label = "t"): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = inject("pgAdminUrl");
  const name = `gift_${label.replace(/[^a-z0-9]/g, "").slice(0, 20)}_${process.pid}_${randomBytes(4).toString("hex")}`;
  const url = await ensureDatabase(admin, name);
  return {
    url,
    async drop() {
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A pg client on a test database, for assertions straight on the tables. */
export async function sql(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}
