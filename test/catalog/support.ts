import "reflect-metadata";
import pg from "pg";
import { startCatalog } from "../../subgraphs/catalog/index.js";
import { mintToken } from "../../platform/auth.js";
import { createTestDatabase } from "../support/db.js";
import { post } from "../support/http.js";

export type RunningCatalog = Awaited<ReturnType<typeof startCatalog>>;

/** The catalog subgraph alone, on a fresh migrated and seeded database, on a free port. */
export async function startCatalogOnly(label: string) {
  const db = await createTestDatabase(label);
  const catalog = await startCatalog({ databaseUrl: db.url, port: 0, poolSize: 6 });
  const adminToken = await mintToken({ sub: "admin-1", name: "Ada Admin", roles: ["viewer", "admin"] });
  return {
    db,
    catalog,
    adminToken,
    /** POST straight to the catalog subgraph, signed as the gateway signs (the catalog answers only signed callers). */
    gql: <T = any>(query: string, variables: Record<string, unknown> = {}, token?: string) => post<T>(catalog.url, query, variables, { token, service: "catalog" }),
    async giftId(slug: string): Promise<string> {
      const [row] = await catalog.dataSource.query(`SELECT id FROM catalog.gifts WHERE slug = $1`, [slug]);
      if (!row) throw new Error(`no gift ${slug}`);
      return row.id;
    },
    async stop() {
      await catalog.stop();
      await db.drop();
    },
  };
}

export { post };

export { pollUntil } from "../support/eventually.js";

export async function pgClient(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  return c;
}
