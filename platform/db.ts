import { DataSource, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError, type EntitySchema, type Logger, type MixedList } from "typeorm";
import pg from "pg";
import { loadDatabasePool } from "./config.js";
import { logger } from "./logger.js";

/** Counts SQL statements so tests can assert batching (100 references → 1 query). */
export class QueryCounter {
  count = 0;
  queries: string[] = [];
  reset(): void {
    this.count = 0;
    this.queries = [];
  }
}

class CountingLogger implements Logger {
  constructor(private readonly counter: QueryCounter) {}
  logQuery(query: string): void {
    this.counter.count++;
    if (this.counter.queries.length < 1000) this.counter.queries.push(query);
  }
  logQueryError(error: string | Error, query: string): void {
    logger.debug({ err: String(error), query: query.slice(0, 200) }, "query failed");
  }
  logQuerySlow(time: number, query: string): void {
    logger.warn({ time, query: query.slice(0, 200) }, "slow query");
  }
  logSchemaBuild(): void {}
  logMigration(message: string): void {
    logger.debug({ migration: message }, "migration");
  }
  log(level: "log" | "info" | "warn", message: unknown): void {
    if (level === "warn") logger.warn({ message }, "typeorm");
  }
}

export interface DataSourceOptions {
  url: string;
  /** The PostgreSQL schema this subgraph owns; its migrations table lives there too. */
  schema: string;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  entities: MixedList<Function | string | EntitySchema>;
  // eslint-disable-next-line @typescript-eslint/no-unsafe-function-type
  migrations: MixedList<Function | string>;
  poolSize?: number;
  applicationName?: string;
}

export function createDataSource(opts: DataSourceOptions): { dataSource: DataSource; queries: QueryCounter } {
  const queries = new QueryCounter();
  const pool = loadDatabasePool();
  const dataSource = new DataSource({
    type: "postgres",
    url: opts.url,
    schema: opts.schema,
    entities: opts.entities,
    migrations: opts.migrations,
    migrationsTableName: "migrations",
    migrationsTransactionMode: "each",
    synchronize: false,
    logging: ["query", "error", "warn"],
    logger: new CountingLogger(queries),
    maxQueryExecutionTime: 1000,
    poolSize: opts.poolSize ?? pool.poolSize,
    applicationName: opts.applicationName ?? `gift-${opts.schema}`,
    // How long a request waits for a free pool connection before it is answered SERVICE_UNAVAILABLE.
    extra: { connectionTimeoutMillis: pool.connectTimeoutMs, idleTimeoutMillis: 30_000 },
  });
  return { dataSource, queries };
}

/**
 * SQLSTATEs that mean "the database could not do it right now", not "this request is wrong":
 * connection exceptions (08), too many connections, admin/crash shutdown (e.g. pg_terminate_backend),
 * serialization failure and deadlock (the transaction was rolled back), statement timeout.
 */
const TRANSIENT_SQLSTATES = new Set(["53300", "57P01", "57P02", "57P03", "40001", "40P01", "57014"]);
/** What node-postgres and its pool say when a connection is lost or none is free in time. */
const TRANSIENT_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|connection error and is not queryable/i;
/**
 * The socket's own errors: a backend killed mid-query (pg_terminate_backend, a restart, a proxy) is
 * often seen as a reset connection rather than PostgreSQL's 57P01 message.
 */
const TRANSIENT_SOCKET_ERRORS = new Set(["ECONNRESET", "EPIPE", "ECONNREFUSED", "ETIMEDOUT"]);

/**
 * Runs `fn` again (up to `attempts` times, backing off 50 ms, 200 ms, ...) while it fails with a
 * transient database error. Only for work that is safe to repeat (guarded state transitions).
 */
export async function retryTransient<T>(fn: () => Promise<T>, attempts = 3): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await fn();
    } catch (e) {
      if (i >= attempts || !isTransientDatabaseError(e)) throw e;
      await new Promise((r) => setTimeout(r, 50 * 4 ** (i - 1)));
    }
  }
}

/**
 * True for a database failure that a retry may cure (overload, a dropped connection, a rolled-back
 * transaction). Clients get SERVICE_UNAVAILABLE for these instead of a masked internal error.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && (code.startsWith("08") || TRANSIENT_SQLSTATES.has(code) || TRANSIENT_SOCKET_ERRORS.has(code))) return true;
    if (TRANSIENT_MESSAGES.test(e.message)) return true;
    // TypeORM's answer to a query on a transaction whose connection the server dropped.
    if (e instanceof QueryRunnerAlreadyReleasedError || e instanceof QueryRunnerProviderAlreadyReleasedError) return true;
    // TypeORM wraps the driver's error; Error.cause chains others.
    e = (e as { driverError?: unknown }).driverError ?? e.cause;
  }
  return false;
}

/** Creates the owned schema (migrations table lives in it), then runs pending migrations. */
export async function migrate(dataSource: DataSource, schema: string): Promise<void> {
  if (!dataSource.isInitialized) await dataSource.initialize();
  // Concurrent starters (two instances, parallel tests) must not race on CREATE SCHEMA / migrations.
  const runner = dataSource.createQueryRunner();
  await runner.connect();
  try {
    await runner.query(`SELECT pg_advisory_lock(hashtext($1))`, [`migrate:${schema}`]);
    await runner.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
    await dataSource.runMigrations({ transaction: "each" });
  } finally {
    await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [`migrate:${schema}`]).catch(() => undefined);
    await runner.release();
  }
}

/** True when the database answers a trivial query within the timeout. */
export async function databaseAnswers(dataSource: DataSource, timeoutMs = 2000): Promise<boolean> {
  if (!dataSource.isInitialized) return false;
  try {
    await Promise.race([
      dataSource.query("SELECT 1"),
      new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), timeoutMs).unref()),
    ]);
    return true;
  } catch {
    return false;
  }
}

/** Creates a database on the server at `adminUrl` if it does not exist; returns its URL. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<string> {
  if (!/^[a-z0-9_]+$/.test(name)) throw new Error(`bad database name ${name}`);
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]);
    if (exists.rowCount === 0) {
      try {
        await client.query(`CREATE DATABASE "${name}" TEMPLATE template0`);
      } catch (e) {
        if ((e as { code?: string }).code !== "42P04") throw e; // created concurrently
      }
    }
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}
