import { randomUUID } from "node:crypto";
import pg from "pg";
import { logger } from "../logger.js";

/** A claims connection that takes longer than this to connect or to answer is dropped (its locks with it). */
const CLAIMS_QUERY_TIMEOUT_MS = 10_000;

export interface ClaimsOptions {
  /** Schema and name of the consumer: the lock key and the claims connection's name. */
  schema: string;
  name: string;
  partitions: number;
  /** How often a running instance re-balances its claims (also how fast a dead instance's partitions move). */
  rebalanceMs?: number;
  /** Called after a rebalance that changed what this instance holds. */
  onChange?: () => void;
}

/**
 * Spreads a consumer's partitions over its live instances (shared by every event-log transport).
 *
 * A running instance holds session advisory locks (one per partition) on a dedicated connection
 * named `claims:<schema>:<name>:<instance>`, counts the live instances by those connections, and
 * every `rebalanceMs` takes or gives back partitions so each holds about partitions ÷ instances. A
 * dead instance's connection closes, PostgreSQL frees its locks at once, and the survivors claim
 * its partitions on their next rebalance.
 *
 * Claims only spread the work; they never make delivery exactly once (a claim can be lost while a
 * batch runs). Each transport's position rows do that.
 */
export class PartitionClaims {
  private stopped = true;
  private client: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private rebalancing: Promise<void> | null = null;
  private readonly held = new Set<number>();
  private databaseUrl: string | null = null;
  readonly instanceId = randomUUID().slice(0, 8);

  constructor(private readonly opts: ClaimsOptions) {}

  /** Partitions this running instance holds now (its share of the work). */
  get claimed(): number[] {
    return [...this.held].sort((a, b) => a - b);
  }

  /** `claims:<schema>:<name>:` — every instance's claims connection name starts with it (at most 63 bytes in all). */
  get prefix(): string {
    return `claims:${this.opts.schema}:${this.opts.name}`.slice(0, 50) + ":";
  }

  async start(databaseUrl: string): Promise<void> {
    this.stopped = false;
    this.databaseUrl = databaseUrl;
    await this.rebalance();
    this.timer = setInterval(() => void this.rebalance(), this.opts.rebalanceMs ?? 1000);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.rebalancing;
    this.drop();
  }

  /** Takes or gives back partitions so this instance holds about partitions ÷ live instances. Never throws. */
  private rebalance(): Promise<void> {
    if (this.rebalancing || this.stopped) return this.rebalancing ?? Promise.resolve();
    this.rebalancing = this.rebalanceOnce()
      .catch((err: unknown) => {
        logger.warn({ err: err instanceof Error ? err.message : String(err), consumer: this.opts.name }, "consumer claims lost; reconnecting");
        this.drop();
      })
      .finally(() => {
        this.rebalancing = null;
      });
    return this.rebalancing;
  }

  private async rebalanceOnce(): Promise<void> {
    const { partitions } = this.opts;
    const client = await this.connection();
    const lockKey = `consumer:${this.opts.schema}:${this.opts.name}`;
    const [{ n }] = (await client.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND starts_with(application_name, $1)`, [this.prefix])).rows;
    const target = Math.ceil(partitions / Math.max(1, n));
    // What this session really holds is PostgreSQL's answer, not our memory of it: a lock taken by a
    // query whose answer was lost would otherwise be held by no worker, and no other instance could
    // take it (seen in bench:scale: one instance held 32 partitions, 10 of them worked by nobody).
    let changed = await this.reconcile(client);
    for (const p of this.claimed.slice(target)) {
      await client.query(`SELECT pg_advisory_unlock(hashtext($1), $2)`, [lockKey, p]);
      this.held.delete(p);
      changed = true;
    }
    const want = target - this.held.size;
    if (want > 0) {
      // Start at a random partition so instances starting together do not contend for the same ones.
      const offset = Math.floor(Math.random() * partitions);
      const got = await client.query(
        `SELECT p FROM (SELECT mod(s + $3, $2) AS p FROM generate_series(0, $2 - 1) s) c
          WHERE NOT (p = ANY($4::int[])) AND pg_try_advisory_lock(hashtext($1), p) LIMIT $5`,
        [lockKey, partitions, offset, this.claimed, want],
      );
      for (const r of got.rows) this.held.add(Number(r.p));
      if (got.rows.length > 0) changed = true;
    }
    if (changed) this.opts.onChange?.();
  }

  /** Makes `held` what this claims session holds in pg_locks (it holds locks of this consumer only). True if it differed. */
  private async reconcile(client: pg.Client): Promise<boolean> {
    const { rows } = await client.query(`SELECT objid::int AS p FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2 AND granted AND pid = pg_backend_pid()`);
    const actual = new Set(rows.map((r: { p: number }) => Number(r.p)));
    const differs = actual.size !== this.held.size || [...actual].some((p) => !this.held.has(p));
    if (differs) {
      logger.warn({ consumer: this.opts.name, held: this.claimed, actual: [...actual].sort((a, b) => a - b) }, "claims out of step with the database; taking the database's");
      this.held.clear();
      for (const p of actual) this.held.add(p);
    }
    return differs;
  }

  private async connection(): Promise<pg.Client> {
    if (this.client) return this.client;
    // Bounded: a claims query that never answers must not freeze this instance's share of the
    // partitions; a timeout drops the connection (and with it every lock), and the next rebalance starts over.
    const client = new pg.Client({ connectionString: this.databaseUrl!, application_name: this.prefix + this.instanceId, connectionTimeoutMillis: CLAIMS_QUERY_TIMEOUT_MS, query_timeout: CLAIMS_QUERY_TIMEOUT_MS });
    client.on("error", () => this.drop());
    await client.connect();
    this.client = client;
    return client;
  }

  /** The claims connection is gone: so are its locks. Work on nothing until claimed again. */
  private drop(): void {
    const had = this.held.size > 0;
    this.held.clear();
    const c = this.client;
    this.client = null;
    void c?.end().catch(() => undefined);
    if (had) this.opts.onChange?.();
  }
}
