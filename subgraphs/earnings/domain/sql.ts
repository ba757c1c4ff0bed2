import type { DataSource, EntityManager } from "typeorm";

/**
 * TypeORM returns `[rows, rowCount]` for UPDATE/DELETE but plain rows otherwise;
 * this always gives the rows, so `UPDATE ... RETURNING` can be checked for "no row matched".
 */
export async function rows<T = any>(m: EntityManager | DataSource, sql: string, params: unknown[] = []): Promise<T[]> {
  const r = await m.query(sql, params);
  if (Array.isArray(r) && r.length === 2 && Array.isArray(r[0]) && typeof r[1] === "number") return r[0] as T[];
  return r as T[];
}
