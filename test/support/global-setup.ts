import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres, type EmbeddedServer } from "../../scripts/embedded-pg.js";

declare module "vitest" {
  export interface ProvidedContext {
    pgAdminUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: DATABASE_URL when set (CI's server), otherwise a
 * throwaway embedded server. Every test file creates its own database on it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.DATABASE_URL) {
    project.provide("pgAdminUrl", process.env.DATABASE_URL);
    return async () => {};
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), "gift-pg-"));
  chmodSync(dir, 0o755); // PostgreSQL runs as the `postgres` OS user when we are root
  const server: EmbeddedServer = await startEmbeddedPostgres({ dir: path.join(dir, "data"), persistent: false, quiet: true });
  project.provide("pgAdminUrl", server.url);
  return async () => {
    await server.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
}
