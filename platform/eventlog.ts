import { randomUUID } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import { PartitionClaims } from "./eventlog/claims.js";
import { logger } from "./logger.js";
import { PgListener } from "./pg-listener.js";

/**
 * The event log: a transactional outbox in PostgreSQL that plays the broker.
 *
 * Producers append in the SAME transaction as their business rows, so an event exists
 * iff the business change committed. Consumers read in (tx, id) order and keep their
 * position in their own schema, updated in the same transaction as what they apply:
 * exactly-once application even when killed mid-batch.
 *
 * Why (tx, id) and `tx < xmin`: bigserial ids are assigned at INSERT but become
 * visible at COMMIT, so reading "id > last" can skip an id whose transaction commits
 * later. Reading only events whose transaction id is below the oldest still-running
 * transaction (pg_snapshot_xmin) guarantees nothing can appear behind the position.
 *
 * The schema is owned by no subgraph; it is the broker's. With NATS_URL the outbox stays the
 * source of truth and platform/eventlog/nats.ts relays it to JetStream and replaces EventConsumer
 * (one EventLog interface, platform/eventlog/types.ts); producers and handlers do not change.
 */
export const EVENTLOG_CHANNEL = "eventlog";

export interface LoggedEvent<P = unknown> {
  /** Global order position (tx, id) as a string "tx:id". */
  position: string;
  id: string;
  type: string;
  key: string;
  payload: P;
  createdAt: Date;
}

export interface NewEvent<P = unknown> {
  /** Unique id; consumers dedupe on it. Defaults to a random UUID. */
  id?: string;
  type: string;
  /** Partition/ordering key (e.g. the host id). */
  key: string;
  payload: P;
}

const DDL = [
  `CREATE SCHEMA IF NOT EXISTS eventlog`,
  `CREATE TABLE IF NOT EXISTS eventlog.events (
     id bigserial PRIMARY KEY,
     tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
     event_id uuid NOT NULL UNIQUE,
     type text NOT NULL,
     key text NOT NULL,
     payload jsonb NOT NULL,
     created_at timestamptz NOT NULL DEFAULT now()
   )`,
  `CREATE INDEX IF NOT EXISTS events_order ON eventlog.events (tx, id)`,
];

/** Creates the event log (idempotent; serialized by an advisory lock so parallel starters do not race). */
export async function ensureEventLog(ds: DataSource): Promise<void> {
  await ensureSchemaObjects(ds, DDL);
}

/**
 * Runs idempotent DDL (`… IF NOT EXISTS`) in one transaction under one advisory lock shared by every
 * event-log table, so instances that start at the same moment do not race each other's CREATEs.
 */
export async function ensureSchemaObjects(ds: DataSource, statements: readonly string[]): Promise<void> {
  await ds.transaction(async (m) => {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('migrate:eventlog'))`);
    for (const stmt of statements) await m.query(stmt);
  });
}

/**
 * Appends an event inside the caller's transaction; listeners are woken at commit.
 *
 * `notify: false` is for hot producers: a NOTIFY inside a transaction takes a database-wide
 * lock held until after the commit's WAL flush, so every notifying commit is serialized and
 * group commit is lost (measured: 3,000 → 500 commits/s on the bench machine). Such a
 * producer calls EventNotifier.notify() after its commit instead.
 */
/**
 * The insert target of an event, for a producer that appends as part of a larger statement (sendGift's
 * one-statement debit) instead of calling appendEvent: `${EVENT_INSERT} SELECT event_id, type, key, payload …`.
 */
export const EVENT_INSERT = "INSERT INTO eventlog.events (event_id, type, key, payload)";

export async function appendEvent<P>(manager: EntityManager, event: NewEvent<P>, opts: { notify?: boolean } = {}): Promise<string> {
  const id = event.id ?? randomUUID();
  await manager.query(
    `${EVENT_INSERT} VALUES ($1, $2, $3, $4)`,
    [id, event.type, event.key, JSON.stringify(event.payload)],
  );
  if (opts.notify !== false) await manager.query(`SELECT pg_notify($1, $2)`, [EVENTLOG_CHANNEL, event.type]);
  return id;
}

/**
 * Wakes consumers AFTER the producer's commit, outside any transaction, coalesced: at most one
 * NOTIFY in flight per process, plus one more if commits happened meanwhile, so every commit is
 * followed by a notification sent after it. A lost notification (crash between commit and
 * notify) only delays consumers until their fallback poll.
 */
export class EventNotifier {
  private inflight = false;
  private pending = false;

  constructor(private readonly ds: DataSource) {}

  notify(type = ""): void {
    if (this.inflight) {
      this.pending = true;
      return;
    }
    this.inflight = true;
    this.ds
      .query(`SELECT pg_notify($1, $2)`, [EVENTLOG_CHANNEL, type])
      .catch((err) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, "event notify failed; consumers fall back to polling"))
      .finally(() => {
        this.inflight = false;
        if (this.pending) {
          this.pending = false;
          this.notify(type);
        }
      });
  }
}

export interface ConsumerOptions<P> {
  /** Consumer name: one position per name and partition. */
  name: string;
  /** Schema the position lives in (the consumer's own). */
  schema: string;
  types: string[];
  batchSize?: number;
  /**
   * Events are split by `key` into this many partitions (default 1). Each partition has its own
   * read position; a running instance claims about partitions ÷ live instances of them, so N
   * instances share the work with per-key order kept. Changing the count is safe only for a
   * handler that ignores an event it already applied (new positions start at the oldest old one).
   */
  partitions?: number;
  /** Applies a batch inside the consumer's transaction. Throwing rolls back the batch and the position. */
  handle: (manager: EntityManager, events: LoggedEvent<P>[]) => Promise<void>;
  /** Fallback poll interval when no notification arrives. */
  idleMs?: number;
  /**
   * After a batch that was not full, wait this long before the next one (default 0), so events
   * that arrive meanwhile are applied together. A batch's statements cost about the same whatever
   * its size, so under load this trades a little delivery latency for CPU. The first event after
   * an idle spell is applied at once; a full batch never waits.
   */
  lingerMs?: number;
  /** How often a running instance re-balances its claims (also how fast a dead instance's partitions move). */
  rebalanceMs?: number;
}

/** Partitions a consumer may have: enough to spread across many instances, few enough to scan. */
export const MAX_PARTITIONS = 1024;

/** The partition of an event key: stable across processes and languages that have PostgreSQL's hashtext. */
const PARTITION_SQL = (column: string, count: string) => `mod(hashtext(${column})::bigint + 2147483648, ${count})::int`;

interface PositionRow {
  consumer: string;
  tx: string;
  id: string;
  /** pg_snapshot_xmin when the positions were locked: every event with a smaller tx is committed or gone. */
  xmin: string;
}

/**
 * How often (at most) a consumer instance moves its idle partitions' positions up to the log's
 * visible horizon. A poll's scan starts at the OLDEST position it holds; a partition that gets no
 * events would otherwise pin that start at its last event forever, and every poll would rescan the
 * whole log since then (3.5 ms per poll and growing, 2026-12-02 profile of the hot-host bench, where
 * 1 of 64 partitions gets every gift). Once a second bounds the rescan to about a second of events
 * at one small UPDATE per second.
 */
export const IDLE_ADVANCE_MS = 1_000;

/** Log order of two positions: (tx, id), compared as numbers. */
const comparePositions = (a: { tx: string; id: string }, b: { tx: string; id: string }) =>
  BigInt(a.tx) === BigInt(b.tx) ? (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0) : BigInt(a.tx) < BigInt(b.tx) ? -1 : 1;

/**
 * Reads the event log in (tx, id) order and applies batches exactly once: the read position of
 * each partition is a row in the consumer's schema, locked (FOR UPDATE SKIP LOCKED) and moved in
 * the same transaction as the batch. That lock, not the claims, is what makes it exactly once:
 * two instances can never apply the same partition's events at the same time, whatever they
 * believe they hold.
 *
 * Claims only spread the work (PartitionClaims, eventlog/claims.ts: session advisory locks on a
 * connection named `claims:<schema>:<name>:<instance>`, rebalanced every `rebalanceMs`).
 */
export class EventConsumer<P = unknown> {
  private stopped = true;
  private listener: PgListener | null = null;
  private readonly claims: PartitionClaims;
  private wake: (() => void) | null = null;
  private notified = false;
  private loop: Promise<void> | null = null;
  readonly partitions: number;
  /** Batches applied by this instance (tests and metrics). */
  applied = 0;
  /** When this instance last moved its idle partitions' positions (IDLE_ADVANCE_MS). */
  private idleAdvancedAt = 0;
  private readonly linger = new Linger();

  constructor(
    private readonly ds: DataSource,
    private readonly opts: ConsumerOptions<P>,
  ) {
    this.partitions = opts.partitions ?? 1;
    if (!Number.isInteger(this.partitions) || this.partitions < 1 || this.partitions > MAX_PARTITIONS) {
      throw new Error(`partitions must be an integer from 1 to ${MAX_PARTITIONS}, got ${opts.partitions}`);
    }
    this.claims = new PartitionClaims({ schema: opts.schema, name: opts.name, partitions: this.partitions, rebalanceMs: opts.rebalanceMs, onChange: () => this.wake?.() });
  }

  /** This instance among the consumer's instances (its claims connection carries it). */
  get instanceId(): string {
    return this.claims.instanceId;
  }

  /** The position row of one partition (partition count 1 keeps the historical name). */
  positionName(partition: number): string {
    return this.partitions === 1 ? this.opts.name : `${this.opts.name}#${partition}/${this.partitions}`;
  }

  /** Partitions this running instance holds now (its share of the work). */
  get claimed(): number[] {
    return this.claims.claimed;
  }

  /** Creates the position rows for this consumer (idempotent); new ones start at the oldest existing position. */
  async ensure(): Promise<void> {
    await ensureEventLog(this.ds);
    const { schema, name } = this.opts;
    // Serialized: instances starting together would race CREATE TABLE IF NOT EXISTS (a duplicate pg_type row).
    await ensureSchemaObjects(this.ds, [
      `CREATE TABLE IF NOT EXISTS "${schema}".consumer_positions (
         consumer text PRIMARY KEY, tx xid8 NOT NULL DEFAULT '0', id bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now())`,
    ]);
    const names = this.all.map((p) => this.positionName(p));
    await this.ds.transaction(async (m) => {
      await m.query(`SELECT pg_advisory_xact_lock(hashtext($1))`, [`positions:${schema}:${name}`]);
      await m.query(
        `INSERT INTO "${schema}".consumer_positions (consumer, tx, id)
         SELECT n, COALESCE(o.tx, '0'), COALESCE(o.id, 0)
           FROM unnest($1::text[]) AS n
           LEFT JOIN (SELECT tx, id FROM "${schema}".consumer_positions WHERE consumer = $2 OR consumer LIKE $2 || '#%' ORDER BY tx, id LIMIT 1) o ON true
         ON CONFLICT (consumer) DO NOTHING`,
        [names, name],
      );
    });
  }

  /** Events not yet applied, over every partition (operators' lag). */
  async lag(): Promise<{ pendingEvents: number; oldestPendingAt: Date | null }> {
    const { schema, types } = this.opts;
    const names = this.all.map((p) => this.positionName(p));
    const [row] = await this.ds.query(
      `SELECT count(*)::int AS n, min(e.created_at) AS oldest
         FROM eventlog.events e
         JOIN "${schema}".consumer_positions q ON q.consumer = ($3::text[])[${PARTITION_SQL("e.key", "$2")} + 1]
        WHERE e.type = ANY($1) AND (e.tx, e.id) > (q.tx, q.id)
          AND (e.tx, e.id) > (SELECT tx, id FROM "${schema}".consumer_positions WHERE consumer = ANY($3) ORDER BY tx, id LIMIT 1)`,
      [types, this.partitions, names],
    );
    return { pendingEvents: row.n, oldestPendingAt: row.oldest ? new Date(row.oldest) : null };
  }

  private get all(): number[] {
    return Array.from({ length: this.partitions }, (_, p) => p);
  }

  /**
   * Applies at most one batch over `mine` (default: every partition). Returns how many events it
   * applied (0 when caught up, or when other instances hold every one of those positions).
   */
  async pollOnce(mine: number[] = this.all, opts: { wait?: boolean } = {}): Promise<number> {
    const { schema, types } = this.opts;
    if (mine.length === 0) return 0;
    return this.ds.transaction(async (m) => {
      // The run loop skips positions another instance is applying; drain() waits for them (it promises
      // "everything committed so far"). Locked in name order, so two waiting drains cannot deadlock.
      const positions: PositionRow[] = await m.query(
        `SELECT consumer, tx::text AS tx, id::text AS id, pg_snapshot_xmin(pg_current_snapshot())::text AS xmin FROM "${schema}".consumer_positions
          WHERE consumer = ANY($1) ORDER BY consumer FOR UPDATE${opts.wait ? "" : " SKIP LOCKED"}`,
        [mine.map((p) => this.positionName(p))],
      );
      if (positions.length === 0) return 0;
      positions.sort(comparePositions);
      const partOf = new Map(mine.map((p) => [this.positionName(p), p]));
      const parts = positions.map((r) => partOf.get(r.consumer)!);
      const limit = this.opts.batchSize ?? 500;
      const rows: { id: string; tx: string; event_id: string; type: string; key: string; payload: P; created_at: Date; part: number }[] = await m.query(
        `SELECT e.id, e.tx::text AS tx, e.event_id, e.type, e.key, e.payload, e.created_at, q.part
           FROM eventlog.events e
           JOIN unnest($4::int[], $5::xid8[], $6::bigint[]) AS q(part, tx, id) ON q.part = ${PARTITION_SQL("e.key", "$3")}
          -- The oldest position as a plain bound: an index range on (tx, id), never a scan of what was consumed.
          WHERE (e.tx, e.id) > ($1::xid8, $2::bigint)
            AND (e.tx, e.id) > (q.tx, q.id)
            AND e.tx < pg_snapshot_xmin(pg_current_snapshot())
            AND e.type = ANY($7)
          ORDER BY e.tx, e.id
          LIMIT $8`,
        [positions[0].tx, positions[0].id, this.partitions, parts, positions.map((r) => r.tx), positions.map((r) => r.id), types, limit],
      );
      if (rows.length === 0) return 0;
      const events = rows.map((r) => ({ position: `${r.tx}:${r.id}`, id: r.event_id, type: r.type, key: r.key, payload: r.payload, createdAt: r.created_at }));
      await this.opts.handle(m, events);
      const last = new Map<number, { tx: string; id: string }>();
      for (const r of rows) last.set(r.part, { tx: r.tx, id: r.id });
      if (rows.length < limit) this.advanceIdle(positions, partOf, last);
      const moved = [...last.entries()];
      await m.query(
        `UPDATE "${schema}".consumer_positions p SET tx = v.tx, id = v.id, updated_at = now()
           FROM unnest($1::text[], $2::xid8[], $3::bigint[]) AS v(consumer, tx, id) WHERE p.consumer = v.consumer`,
        [moved.map(([p]) => this.positionName(p)), moved.map(([, v]) => v.tx), moved.map(([, v]) => v.id)],
      );
      this.applied++;
      return rows.length;
    });
  }

  /**
   * After a batch that was not full (the scan saw every visible event of these partitions), moves
   * each polled partition that got none up to the horizon its lock saw: no event with a smaller tx
   * can still appear, and every larger one is after (xmin, 0). At most every IDLE_ADVANCE_MS.
   */
  private advanceIdle(positions: PositionRow[], partOf: Map<string, number>, moved: Map<number, { tx: string; id: string }>): void {
    const now = Date.now();
    if (now - this.idleAdvancedAt < IDLE_ADVANCE_MS) return;
    this.idleAdvancedAt = now;
    for (const p of positions) {
      const part = partOf.get(p.consumer)!;
      const horizon = { tx: p.xmin, id: "0" };
      if (!moved.has(part) && comparePositions(p, horizon) < 0) moved.set(part, horizon);
    }
  }

  /** Polls every partition until caught up (tests, operators), whatever this instance has claimed. */
  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.pollOnce(this.all, { wait: true }); n > 0; n = await this.pollOnce(this.all, { wait: true })) total += n;
    return total;
  }

  /** Runs the consumer: claims its share of partitions, woken by NOTIFY at commit, with a short fallback poll. */
  async start(databaseUrl: string | undefined = (this.ds.options as { url?: string }).url): Promise<void> {
    if (!databaseUrl) throw new Error(`consumer ${this.opts.name} needs the DataSource url to LISTEN`);
    await this.ensure();
    this.stopped = false;
    const poke = () => {
      // A notification that lands while a batch is running must not be lost until the idle poll.
      this.notified = true;
      this.wake?.();
    };
    // (Re)listening also pokes: events committed while the connection was down sent their NOTIFY to no one.
    this.listener = new PgListener({ databaseUrl, channel: EVENTLOG_CHANNEL, name: `consumer-${this.opts.name}`, onNotify: poke, onListening: poke });
    await this.listener.start();
    await this.claims.start(databaseUrl);
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const idle = this.opts.idleMs ?? 100;
    const limit = this.opts.batchSize ?? 500;
    while (!this.stopped) {
      try {
        const n = await this.pollOnce(this.claimed);
        if (n >= limit) continue;
        if (n > 0) {
          // Checked here, not only by stop()'s cancel: a stop() that came while this batch ran has nothing to cancel yet.
          if (!this.stopped) await this.linger.wait(this.opts.lingerMs ?? 0);
          continue;
        }
      } catch (err) {
        if (this.stopped) break;
        logger.error({ err: err instanceof Error ? err.message : String(err), consumer: this.opts.name }, "consumer batch failed; retrying");
      }
      if (this.notified) {
        this.notified = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, idle);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
      this.notified = false;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    this.linger.cancel();
    await this.loop?.catch(() => undefined);
    await this.claims.stop();
    await this.listener?.stop();
    this.listener = null;
  }
}

/** ConsumerOptions.lingerMs for a consumer's run loop: a wait that a notification does not cut short, but stop() does. */
export class Linger {
  private cut: (() => void) | null = null;

  wait(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => this.cancel(), ms);
      this.cut = () => {
        clearTimeout(t);
        this.cut = null;
        resolve();
      };
    });
  }

  cancel(): void {
    this.cut?.();
  }
}
