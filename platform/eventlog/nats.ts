import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type ConsumerMessages, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import { connect, headers, type NatsConnection } from "@nats-io/transport-node";
import type { DataSource, EntityManager } from "typeorm";
import { EventConsumer, ensureEventLog, ensureSchemaObjects, type ConsumerOptions, type LoggedEvent } from "../eventlog.js";
import { logger } from "../logger.js";
import { PartitionClaims } from "./claims.js";
import type { ConsumerLag, EventLog, EventLogConsumer } from "./types.js";

/**
 * The event log over NATS JetStream (selected by NATS_URL; docs/scaling.md).
 *
 * PostgreSQL stays the source of truth: producers append to eventlog.events in their transaction as
 * always. An OutboxRelay (one active per database, in the earnings process) reads the outbox in
 * (tx, id) order and publishes each event to `<prefix>.<type>.<partition>` with
 * Nats-Msg-Id = the event id, moving its own position in the same PostgreSQL transaction only
 * after JetStream acknowledged every message. A crash between the acks and that commit re-publishes
 * the batch: JetStream drops the copies inside the duplicate window.
 *
 * Each message also carries its partition sequence (1, 2, 3 … per subject, assigned in the relay's
 * transaction, so a re-published event gets the same number). A JetStreamEventConsumer applies a
 * partition's messages strictly in that sequence, and records it with the outbox position in its
 * position row in the handler's transaction: a redelivered or re-published copy (even one past
 * the duplicate window) is recognised and skipped, and a message that arrives before its
 * predecessor waits for it. The JetStream ack comes after the commit; a lost ack only means a
 * redelivery that is skipped.
 */
export interface NatsEventLogOptions {
  url: string;
  /** JetStream stream holding the events (one per deployment). */
  stream?: string;
  /** Subject prefix: events are published to `<prefix>.<type>.<partition>`. */
  subjectPrefix?: string;
  /** Subject prefix of the room feed (`<feedSubjectPrefix>.room.<liveSessionId>`, stream `<stream>_FEED`; platform/feed.ts). */
  feedSubjectPrefix?: string;
  /** JetStream drops a message whose Nats-Msg-Id it saw within this window: longer than any relay outage we allow. */
  duplicateWindowMs?: number;
  /** Messages older than this leave the stream (replay reads PostgreSQL). */
  maxAgeMs?: number;
  /** A delivered message not acked within this is redelivered (a consumer that died mid-batch). */
  ackWaitMs?: number;
  /** A publish not acknowledged by JetStream within this fails the relay's batch (it is retried). */
  publishTimeoutMs?: number;
  /** Connection name (visible in the server's connz). */
  name?: string;
}

export const NATS_DEFAULTS = {
  stream: "EVENTS",
  subjectPrefix: "events",
  feedSubjectPrefix: "feed",
  duplicateWindowMs: 2 * 3600_000,
  maxAgeMs: 7 * 24 * 3600_000,
  ackWaitMs: 30_000,
  publishTimeoutMs: 5_000,
};

const PART_SEQ = "Event-Partition-Seq";
const POSITION = "Event-Position";
const TOKEN = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;
const nanos = (ms: number) => Math.round(ms * 1_000_000);
/** A partition worker this long without a message is checked for lost pulls (see restartStalled). */
const STALL_CHECK_MS = 10_000;
const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** What travels in a message body: the outbox row. */
interface WireEvent {
  id: string;
  type: string;
  key: string;
  position: string;
  payload: unknown;
  createdAt: string;
}

export class NatsEventLog implements EventLog {
  readonly transport = "nats" as const;
  readonly opts: Required<Omit<NatsEventLogOptions, "name">> & { name: string };
  private nc: Promise<NatsConnection> | null = null;
  private streamReady: Promise<void> | null = null;

  constructor(opts: NatsEventLogOptions) {
    this.opts = { ...NATS_DEFAULTS, name: "eventlog", ...opts };
    if (!TOKEN.test(this.opts.subjectPrefix)) throw new Error(`not a NATS subject prefix: ${this.opts.subjectPrefix}`);
    if (!TOKEN.test(this.opts.feedSubjectPrefix)) throw new Error(`not a NATS subject prefix: ${this.opts.feedSubjectPrefix}`);
    if (!/^[A-Za-z0-9_-]+$/.test(this.opts.stream)) throw new Error(`not a JetStream stream name: ${this.opts.stream}`);
  }

  /** One connection per EventLog, reconnecting forever (a NATS restart is an outage, not a crash). */
  async connection(): Promise<NatsConnection> {
    // Closed (not merely disconnected: that reconnects by itself) means closed by us or for good: open a new one.
    if (this.nc && (await this.nc.then((c) => c.isClosed(), () => true))) this.nc = null;
    this.nc ??= connect({ servers: this.opts.url, name: this.opts.name, reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true }).catch((err) => {
      this.nc = null;
      throw err;
    });
    return this.nc;
  }

  async js(): Promise<JetStreamClient> {
    return jetstream(await this.connection());
  }

  async jsm(): Promise<JetStreamManager> {
    return jetstreamManager(await this.connection());
  }

  /** The subject of one partition of one event type. */
  subject(type: string, partition: number): string {
    if (!TOKEN.test(type)) throw new Error(`event type ${JSON.stringify(type)} cannot be a NATS subject`);
    return `${this.opts.subjectPrefix}.${type}.${partition}`;
  }

  /** Creates or updates the stream (idempotent). */
  ensureStream(): Promise<void> {
    this.streamReady ??= this.createStream().catch((err) => {
      this.streamReady = null;
      throw err;
    });
    return this.streamReady;
  }

  private async createStream(): Promise<void> {
    const jsm = await this.jsm();
    const config = {
      name: this.opts.stream,
      subjects: [`${this.opts.subjectPrefix}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      duplicate_window: nanos(this.opts.duplicateWindowMs),
      max_age: nanos(this.opts.maxAgeMs),
      allow_direct: true,
    };
    const exists = await jsm.streams.info(this.opts.stream).then(() => true, () => false);
    if (exists) await jsm.streams.update(this.opts.stream, config);
    else await jsm.streams.add(config);
  }

  /** The relay of `types` (type → partition count) from this database's outbox to the stream. */
  relay(ds: DataSource, types: Record<string, number>, opts: { batchSize?: number; idleMs?: number } = {}): OutboxRelay {
    return new OutboxRelay(this, ds, types, opts);
  }

  consumer<P>(ds: DataSource, opts: ConsumerOptions<P>): JetStreamEventConsumer<P> {
    return new JetStreamEventConsumer<P>(this, ds, opts);
  }

  async close(): Promise<void> {
    const nc = await this.nc?.catch(() => null);
    this.nc = null;
    this.streamReady = null;
    await nc?.drain().catch(() => nc.close());
  }
}

/**
 * Publishes the outbox to JetStream, in order, each event once. It is an EventConsumer of the outbox
 * (partition count 1, position `nats-relay:<stream>` in eventlog.consumer_positions): every earnings
 * instance runs one, one of them holds the claim and relays, another takes over within a second of
 * its death. The handler publishes the batch and waits for every JetStream ack before the position
 * commits; a failed or timed-out publish rolls the batch back and it is re-published (deduplicated).
 */
export class OutboxRelay {
  readonly consumer: EventConsumer;
  /** Messages acknowledged by JetStream as new / as duplicates since start (tests, metrics). */
  published = 0;
  duplicates = 0;
  /** Test seam: runs in the relay's transaction after JetStream acked the batch, before the position commits. */
  hooks: { afterPublish?: (m: EntityManager) => Promise<void> } = {};

  constructor(
    private readonly log: NatsEventLog,
    private readonly ds: DataSource,
    private readonly types: Record<string, number>,
    opts: { batchSize?: number; idleMs?: number },
  ) {
    for (const [type, n] of Object.entries(types)) {
      log.subject(type, 0);
      if (!Number.isInteger(n) || n < 1) throw new Error(`relay partitions of ${type} must be a positive integer, got ${n}`);
    }
    this.consumer = new EventConsumer(ds, {
      name: `nats-relay:${log.opts.stream}`,
      schema: "eventlog",
      types: Object.keys(types),
      batchSize: opts.batchSize ?? 500,
      idleMs: opts.idleMs ?? 100,
      handle: (m, events) => this.publish(m, events),
    });
  }

  async ensure(): Promise<void> {
    await ensureEventLog(this.ds);
    await ensureSchemaObjects(this.ds, [`CREATE TABLE IF NOT EXISTS eventlog.relay_sequences (subject text PRIMARY KEY, seq bigint NOT NULL)`]);
    await this.log.ensureStream();
    await this.consumer.ensure();
  }

  async start(): Promise<void> {
    await this.ensure();
    await this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** Relays everything committed so far (tests). */
  drain(): Promise<number> {
    return this.consumer.drain();
  }

  /** Outbox events not yet published. */
  lag(): Promise<ConsumerLag> {
    return this.consumer.lag();
  }

  private async publish(m: EntityManager, events: LoggedEvent[]): Promise<void> {
    // The partition of each event: PostgreSQL's hashtext, the same function the PostgreSQL transport uses.
    const parts: { p: number }[] = await m.query(
      `SELECT mod(hashtext(k)::bigint + 2147483648, n)::int AS p FROM unnest($1::text[], $2::int[]) WITH ORDINALITY AS x(k, n, o) ORDER BY o`,
      [events.map((e) => e.key), events.map((e) => this.types[e.type])],
    );
    const bySubject = new Map<string, LoggedEvent[]>();
    events.forEach((e, i) => {
      const s = this.log.subject(e.type, parts[i].p);
      bySubject.set(s, [...(bySubject.get(s) ?? []), e]);
    });
    const subjects = [...bySubject.keys()];
    // Partition sequences move in this transaction: a rolled-back batch hands out the same numbers again.
    const ends: { subject: string; seq: string }[] = await m.query(
      `INSERT INTO eventlog.relay_sequences AS r (subject, seq) SELECT * FROM unnest($1::text[], $2::bigint[])
       ON CONFLICT (subject) DO UPDATE SET seq = r.seq + EXCLUDED.seq RETURNING subject, seq::text AS seq`,
      [subjects, subjects.map((s) => bySubject.get(s)!.length)],
    );
    const js = await this.log.js();
    // One partition's events one after another (each acked before the next, so the stream keeps
    // their order whatever fails); the partitions side by side.
    await Promise.all(
      ends.map(async ({ subject, seq }) => {
        const list = bySubject.get(subject)!;
        let n = BigInt(seq) - BigInt(list.length);
        for (const e of list) {
          n++;
          const h = headers();
          h.set(PART_SEQ, n.toString());
          h.set(POSITION, e.position);
          const body: WireEvent = { id: e.id, type: e.type, key: e.key, position: e.position, payload: e.payload, createdAt: new Date(e.createdAt).toISOString() };
          const ack = await js.publish(subject, JSON.stringify(body), { msgID: e.id, headers: h, timeout: this.log.opts.publishTimeoutMs });
          if (ack.duplicate) this.duplicates++;
          else this.published++;
        }
      }),
    );
    await this.hooks.afterPublish?.(m);
  }
}

/** (tx, id) of an outbox position "tx:id", comparable. */
function pos(position: string): [bigint, bigint] {
  const [tx, id] = position.split(":");
  return [BigInt(tx), BigInt(id)];
}
const after = (a: [bigint, bigint], b: [bigint, bigint]) => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

interface Delivered {
  msg: JsMsg;
  partSeq: bigint;
  event: WireEvent;
}

/**
 * Consumes one event type from durable JetStream consumers, one per partition
 * (`<name>-<partition>-of-<count>` filtered on that partition's subject), claimed across instances
 * with the same PostgreSQL claims as the PostgreSQL transport, and with the SAME position rows
 * (`<schema>.consumer_positions`, plus the partition and stream sequences): switching transports
 * neither re-applies nor skips an event.
 */
export class JetStreamEventConsumer<P = unknown> implements EventLogConsumer {
  readonly partitions: number;
  private readonly claims: PartitionClaims;
  private readonly positions: EventConsumer<P>;
  private readonly workers = new Map<number, PartitionWorker>();
  /** Workers handed back by sync, still finishing the batch in hand (stop() waits for them). */
  private readonly stopping = new Set<Promise<void>>();
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private stopped = true;
  applied = 0;
  /** Workers restarted because their durable had work and no pull waiting (metrics, tests). */
  stalls = 0;

  constructor(
    private readonly log: NatsEventLog,
    private readonly ds: DataSource,
    private readonly opts: ConsumerOptions<P>,
  ) {
    if (opts.types.length !== 1) throw new Error(`a JetStream consumer reads exactly one event type (one subject per partition), got ${opts.types.length}`);
    // The PostgreSQL consumer of the same name owns the position rows' shape and partition validation.
    this.positions = new EventConsumer<P>(ds, opts);
    this.partitions = this.positions.partitions;
    this.claims = new PartitionClaims({ schema: opts.schema, name: opts.name, partitions: this.partitions, rebalanceMs: opts.rebalanceMs, onChange: () => void this.sync() });
  }

  get claimed(): number[] {
    return this.claims.claimed;
  }

  get instanceId(): string {
    return this.claims.instanceId;
  }

  private get batchSize(): number {
    return this.opts.batchSize ?? 500;
  }

  durable(partition: number): string {
    return `${this.opts.name}-${partition}-of-${this.partitions}`.replace(/[^A-Za-z0-9_-]/g, "_");
  }

  subject(partition: number): string {
    return this.log.subject(this.opts.types[0], partition);
  }

  async ensure(): Promise<void> {
    await this.positions.ensure();
    await ensureSchemaObjects(this.ds, [
      `ALTER TABLE "${this.opts.schema}".consumer_positions
         ADD COLUMN IF NOT EXISTS part_seq bigint NOT NULL DEFAULT 0,
         ADD COLUMN IF NOT EXISTS part_subject text NOT NULL DEFAULT '',
         ADD COLUMN IF NOT EXISTS stream_seq bigint NOT NULL DEFAULT 0`,
    ]);
    await this.log.ensureStream();
    const jsm = await this.log.jsm();
    for (let p = 0; p < this.partitions; p++) {
      const config = {
        durable_name: this.durable(p),
        filter_subject: this.subject(p),
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(this.log.opts.ackWaitMs),
        max_ack_pending: this.batchSize * 4,
      };
      const existing = await jsm.consumers.info(this.log.opts.stream, config.durable_name).catch(() => null);
      if (!existing) await jsm.consumers.add(this.log.opts.stream, config);
      // Only when a setting changed: an instance (re)starting must not touch the durables the live
      // instances are pulling from (an update can drop their waiting pull requests).
      else if (existing.config.ack_wait !== config.ack_wait || existing.config.max_ack_pending !== config.max_ack_pending) {
        await jsm.consumers.update(this.log.opts.stream, config.durable_name, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
      }
    }
  }

  async start(): Promise<void> {
    const url = (this.ds.options as { url?: string }).url;
    if (!url) throw new Error(`consumer ${this.opts.name} needs the DataSource url for its claims`);
    await this.ensure();
    this.stopped = false;
    await this.claims.start(url);
    // Also on a timer: a worker that could not start (NATS down) is retried.
    this.syncTimer = setInterval(() => void this.sync(), this.opts.rebalanceMs ?? 1000);
    this.syncTimer.unref();
    await this.sync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    await this.syncing;
    await this.claims.stop();
    await Promise.all([...[...this.workers.values()].map((w) => w.stop()), ...this.stopping]);
    this.workers.clear();
  }

  /**
   * Starts a worker per claimed partition and stops the others; restarts a worker that stalled.
   * Never throws, and never waits long: a stop runs in the background (it waits for the batch in
   * hand, which can queue on the feed lock), so a slow one cannot hold back the partitions that
   * must start now.
   */
  private sync(): Promise<void> {
    if (this.syncing) return this.syncing;
    this.syncing = (async () => {
      const want = new Set(this.stopped ? [] : this.claimed);
      await this.restartStalled(want);
      for (const [p, w] of this.workers) {
        if (want.has(p) && w.alive) continue;
        this.workers.delete(p);
        const stopping: Promise<void> = w.stop().finally(() => this.stopping.delete(stopping));
        this.stopping.add(stopping);
      }
      for (const p of want) {
        if (this.workers.has(p)) continue;
        const w = new PartitionWorker(this, p, this.batchSize);
        try {
          await w.start(await this.log.js(), this.log.opts.stream, this.durable(p));
          this.workers.set(p, w);
        } catch (err) {
          logger.warn({ err: errText(err), consumer: this.opts.name, partition: p }, "JetStream consumer not reachable; retrying");
        }
      }
    })().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  /**
   * A worker that has received nothing for STALL_CHECK_MS while its durable holds work and has no
   * pull request waiting is not being served (its pulls were lost): it is marked dead, so this sync
   * starts a fresh one. One consumer-info request per quiet worker per STALL_CHECK_MS.
   */
  private async restartStalled(want: Set<number>): Promise<void> {
    const now = Date.now();
    const quiet = [...this.workers].filter(([p, w]) => want.has(p) && w.alive && now - w.lastSeenAt >= STALL_CHECK_MS && now - w.checkedAt >= STALL_CHECK_MS);
    if (quiet.length === 0) return;
    const jsm = await this.log.jsm().catch(() => null);
    if (!jsm) return;
    for (const [p, w] of quiet) {
      w.checkedAt = now;
      const info = await jsm.consumers.info(this.log.opts.stream, this.durable(p)).catch(() => null);
      if (info && info.num_pending + info.num_ack_pending > 0 && info.num_waiting === 0) {
        logger.warn({ consumer: this.opts.name, partition: p, pending: info.num_pending, ackPending: info.num_ack_pending }, "JetStream partition worker stalled (no pull waiting); restarting it");
        w.alive = false;
        this.stalls++;
      }
    }
  }

  /**
   * Applies delivered messages of one partition in one transaction, strictly in partition sequence;
   * acks after the commit. Returns how many events were handled.
   */
  async apply(partition: number, msgs: JsMsg[]): Promise<number> {
    const delivered: Delivered[] = msgs
      .map((msg) => ({ msg, partSeq: BigInt(msg.headers?.get(PART_SEQ) || "0"), event: msg.json<WireEvent>() }))
      .sort((a, b) => (a.partSeq < b.partSeq ? -1 : a.partSeq > b.partSeq ? 1 : 0));
    const name = this.positions.positionName(partition);
    const subject = this.subject(partition);
    let outcome: { ack: Delivered[]; later: Delivered[]; handled: number } | null = null;
    try {
      outcome = await this.ds.transaction(async (m) => {
        const [row]: { tx: string; id: string; part_seq: string; part_subject: string }[] = await m.query(
          `SELECT tx::text AS tx, id::text AS id, part_seq::text AS part_seq, part_subject FROM "${this.opts.schema}".consumer_positions WHERE consumer = $1 FOR UPDATE SKIP LOCKED`,
          [name],
        );
        if (!row) return null; // another instance is applying this partition right now
        // A partition sequence counts on one subject: after a move to another stream or prefix it starts over
        // (the outbox position below still keeps what was applied from being applied again).
        const base = row.part_subject === subject ? BigInt(row.part_seq) : 0n;
        let { take, dup, later } = split(delivered, base + 1n);
        if (take.length === 0 && later.length > 0 && (await this.gapIsGone(partition, later[0].partSeq))) {
          // The missing messages left the stream (retention) or never were in it for this consumer
          // (a fresh durable over an older stream): start at the first one still there.
          if (base !== 0n) logger.error({ consumer: name, from: row.part_seq, to: later[0].partSeq.toString() }, "events missing from the stream; skipped to the oldest one kept");
          ({ take, dup, later } = split(delivered, later[0].partSeq));
        }
        if (take.length === 0) return { ack: dup, later, handled: 0 };
        const applied: [bigint, bigint] = [BigInt(row.tx), BigInt(row.id)];
        // Already applied through the PostgreSQL transport (same position row): skipped, not doubled.
        const fresh = take.filter((d) => after(pos(d.event.position), applied));
        if (fresh.length > 0) {
          await this.opts.handle(
            m,
            fresh.map((d) => ({ ...d.event, payload: d.event.payload as P, createdAt: new Date(d.event.createdAt) })),
          );
        }
        const last = take[take.length - 1];
        const top = fresh.length > 0 ? pos(fresh[fresh.length - 1].event.position) : applied;
        await m.query(
          `UPDATE "${this.opts.schema}".consumer_positions SET part_seq = $2, part_subject = $6, stream_seq = $3, tx = $4::text::xid8, id = $5, updated_at = now() WHERE consumer = $1`,
          [name, last.partSeq.toString(), last.msg.seq, top[0].toString(), top[1].toString(), subject],
        );
        return { ack: [...take, ...dup], later, handled: fresh.length };
      });
    } catch (err) {
      for (const d of delivered) d.msg.nak(500);
      throw err;
    }
    if (!outcome) {
      for (const d of delivered) d.msg.nak(250);
      return 0;
    }
    for (const d of outcome.ack) d.msg.ack();
    // Their predecessors are on their way (redelivered after ack_wait at worst): ask again shortly.
    for (const d of outcome.later) d.msg.nak(250);
    if (outcome.handled > 0) this.applied++;
    return outcome.handled;
  }

  /** True when the stream no longer holds (or never held) the messages before `partSeq` of this partition. */
  private async gapIsGone(partition: number, partSeq: bigint): Promise<boolean> {
    const jsm = await this.log.jsm();
    const first = await jsm.direct.getMessage(this.log.opts.stream, { seq: 1, next_by_subj: this.subject(partition) });
    const firstSeq = BigInt(first?.header.get(PART_SEQ) || "0");
    return firstSeq >= partSeq;
  }

  /** Applies at most one batch, from the first partition with messages waiting. */
  async pollOnce(): Promise<number> {
    const jsm = await this.log.jsm();
    const js = await this.log.js();
    for (let p = 0; p < this.partitions; p++) {
      const info = await jsm.consumers.info(this.log.opts.stream, this.durable(p));
      if (info.num_pending === 0) continue;
      const c = await js.consumers.get(this.log.opts.stream, this.durable(p));
      const msgs: JsMsg[] = [];
      for await (const m of await c.fetch({ max_messages: Math.min(this.batchSize, info.num_pending), expires: 1000 })) msgs.push(m);
      if (msgs.length === 0) continue;
      const n = await this.apply(p, msgs);
      if (n > 0) return n;
    }
    return 0;
  }

  async drain(): Promise<number> {
    let total = 0;
    for (let n = await this.pollOnce(); n > 0; n = await this.pollOnce()) total += n;
    return total;
  }

  /** Messages in the stream not yet acked by this consumer (the relay's backlog is the relay's lag). */
  async lag(): Promise<ConsumerLag> {
    const jsm = await this.log.jsm();
    let pendingEvents = 0;
    for (let p = 0; p < this.partitions; p++) {
      const info = await jsm.consumers.info(this.log.opts.stream, this.durable(p));
      pendingEvents += info.num_pending + info.num_ack_pending;
    }
    return { pendingEvents, oldestPendingAt: null };
  }
}

/** Messages at or after `next`: the contiguous run from it, copies already applied, and the ones after a gap. */
function split(delivered: Delivered[], next: bigint): { take: Delivered[]; dup: Delivered[]; later: Delivered[] } {
  const take: Delivered[] = [];
  const dup: Delivered[] = [];
  const later: Delivered[] = [];
  for (const d of delivered) {
    if (d.partSeq < next) dup.push(d);
    else if (d.partSeq === next && later.length === 0) {
      take.push(d);
      next++;
    } else later.push(d);
  }
  return { take, dup, later };
}

/** Pulls one partition's durable consumer and applies what arrived, one batch at a time. */
class PartitionWorker {
  private buffer: JsMsg[] = [];
  private messages: ConsumerMessages | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  alive = true;
  /** When a message last arrived (or the worker started): the stall check looks only at quiet workers. */
  lastSeenAt = Date.now();
  /** When the stall check last looked at this worker. */
  checkedAt = 0;

  constructor(
    private readonly owner: JetStreamEventConsumer<any>,
    private readonly partition: number,
    private readonly batchSize: number,
  ) {}

  async start(js: JetStreamClient, stream: string, durable: string): Promise<void> {
    const c = await js.consumers.get(stream, durable);
    this.messages = await c.consume({
      max_messages: this.batchSize,
      callback: (m) => {
        this.lastSeenAt = Date.now();
        this.buffer.push(m);
        this.wake?.();
      },
    });
    void this.messages.closed().then(() => {
      this.alive = false;
    });
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.buffer.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.owner.apply(this.partition, batch);
      } catch (err) {
        if (!this.stopped) logger.error({ err: errText(err), partition: this.partition }, "JetStream batch failed; redelivered shortly");
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.alive = false;
    await this.messages?.close().catch(() => undefined);
    this.wake?.();
    await this.loop;
    // Not applied here: handed back at once for the partition's next owner.
    for (const m of this.buffer.splice(0)) m.nak();
  }
}
