// The scripts' settings from the environment: the one place scripts/ reads process.env
// (the services' own settings are read by platform/config.ts and the subgraphs' config modules).

export interface ScriptSettings {
  /** DATABASE_URL: an existing PostgreSQL; unset (or empty) = the embedded one under .data/pg. */
  databaseUrl: string | undefined;
  /** EMBEDDED_PG_PORT: the embedded PostgreSQL's port. */
  embeddedPgPort: number;
  /** SCHEMA_BASE_REF: what schema:check compares against (default HEAD locally, HEAD~1 in CI, where the checkout is clean). */
  schemaBaseRef: string;
}

export function loadScriptSettings(env: NodeJS.ProcessEnv = process.env): ScriptSettings {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    embeddedPgPort: Number(env.EMBEDDED_PG_PORT ?? 54329),
    schemaBaseRef: env.SCHEMA_BASE_REF || (env.CI ? "HEAD~1" : "HEAD"),
  };
}

/** The environment a supervised service inherits (the supervisor adds its ports and URLs on top). */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env };
}
