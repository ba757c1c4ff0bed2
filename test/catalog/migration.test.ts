import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateCatalog1732300000000 } from "../../subgraphs/catalog/db/migrations/1732300000000-CreateCatalog.js";
import { entities, migrations } from "../../subgraphs/catalog/db/index.js";
import { createDataSource, migrate } from "../../platform/db.js";
import { createTestDatabase } from "../support/db.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
beforeAll(async () => {
  db = await createTestDatabase("catmig");
});
afterAll(async () => {
  await db?.drop();
});

describe("upgrading an existing catalog to price periods", () => {
  it("backfills each gift's price as its INITIAL period, drops the old column, and answers the same price", async () => {
    // A database that only ran the first migration and has gifts priced in catalog.gifts.coin_cost.
    const old = createDataSource({ url: db.url, schema: "catalog", entities, migrations: [CreateCatalog1732300000000] });
    await migrate(old.dataSource, "catalog");
    await old.dataSource.query(`INSERT INTO catalog.categories (key, name) VALUES ('BASIC', 'Basic')`);
    await old.dataSource.query(
      `INSERT INTO catalog.gifts (slug, name, coin_cost, category, image_path, created_at) VALUES
         ('rose', 'Rose', 1, 'BASIC', 'rose.png', '2025-01-01T00:00:00Z'), ('heart', 'Heart', 5, 'BASIC', 'heart.png', '2025-02-01T00:00:00Z')`,
    );
    await old.dataSource.destroy();

    const current = createDataSource({ url: db.url, schema: "catalog", entities, migrations });
    await migrate(current.dataSource, "catalog");
    try {
      const periods = await current.dataSource.query(
        `SELECT g.slug, p.coin_cost, p.effective_from, p.reason FROM catalog.gift_prices p JOIN catalog.gifts g ON g.id = p.gift_id ORDER BY g.slug`,
      );
      expect(periods).toEqual([
        { slug: "heart", coin_cost: 5, effective_from: new Date("2025-02-01T00:00:00Z"), reason: "INITIAL" },
        { slug: "rose", coin_cost: 1, effective_from: new Date("2025-01-01T00:00:00Z"), reason: "INITIAL" },
      ]);
      const cols = await current.dataSource.query(`SELECT column_name FROM information_schema.columns WHERE table_schema = 'catalog' AND table_name = 'gifts' AND column_name = 'coin_cost'`);
      expect(cols).toEqual([]);
    } finally {
      await current.dataSource.destroy();
    }
  });
});
