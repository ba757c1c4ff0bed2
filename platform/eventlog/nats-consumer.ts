import { AckPolicy, DeliverPolicy, type JsMsg } from "@nats-io/jetstream";
import type { DataSource, EntityManager } from "typeorm";
import { EventConsumer, ensureSchemaObjects, type ConsumerOptions } from "../eventlog.js";
import { logger } from "../logger.js";
import { PartitionClaims } from "./claims.js";
import type { NatsEventLog } from "./nats.js";
import { PartitionWorker } from "./nats-partition-worker.js";
import { errText, nanos, PART_SEQ, type WireEvent } from "./nats-wire.js";
import type { ConsumerLag, EventLogConsumer } from "./types.js";

/** A partition worker this long without a message is checked for lost pulls (see restartStalled). */
const STALL_CHECK_MS = 10_000;

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

/** Messages at or after the next expected sequence: the contiguous run, copies already applied, the ones after a gap. */
interface Run {
  take: Delivered[];
  dup: Delivered[];
  later: Delivered[];
}

/** What a transaction did with a delivery: messages to ack, to hand back for later, events handled. */
interface Outcome {
  ack: Delivered[];
  later: Delivered[];
  handled: number;
}

interface PositionRow {
  tx: string;
  id: string;
  part_seq: string;
  part_subject: string;
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
        const w = new PartitionWorker(this, p, this.batchSize, this.opts.lingerMs);
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
    let outcome: Outcome | null = null;
    try {
      outcome = await this.ds.transaction((m) => this.applyLocked(m, partition, delivered));
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

  /** Inside the transaction: the partition's position row locked, the next run handled, the position moved. Null when another instance holds the row. */
  private async applyLocked(m: EntityManager, partition: number, delivered: Delivered[]): Promise<Outcome | null> {
    const name = this.positions.positionName(partition);
    const subject = this.subject(partition);
    const [row]: PositionRow[] = await m.query(
      `SELECT tx::text AS tx, id::text AS id, part_seq::text AS part_seq, part_subject FROM "${this.opts.schema}".consumer_positions WHERE consumer = $1 FOR UPDATE SKIP LOCKED`,
      [name],
    );
    if (!row) return null; // another instance is applying this partition right now
    const { take, dup, later } = await this.nextRun(partition, name, row, subject, delivered);
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
  }

  /** The contiguous run after the recorded partition sequence; across a gap the stream no longer holds, from the oldest message kept. */
  private async nextRun(partition: number, name: string, row: PositionRow, subject: string, delivered: Delivered[]): Promise<Run> {
    // A partition sequence counts on one subject: after a move to another stream or prefix it starts over
    // (the outbox position still keeps what was applied from being applied again).
    const base = row.part_subject === subject ? BigInt(row.part_seq) : 0n;
    const run = split(delivered, base + 1n);
    if (run.take.length > 0 || run.later.length === 0 || !(await this.gapIsGone(partition, run.later[0].partSeq))) return run;
    // The missing messages left the stream (retention) or never were in it for this consumer
    // (a fresh durable over an older stream): start at the first one still there.
    if (base !== 0n) logger.error({ consumer: name, from: row.part_seq, to: run.later[0].partSeq.toString() }, "events missing from the stream; skipped to the oldest one kept");
    return split(delivered, run.later[0].partSeq);
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
function split(delivered: Delivered[], next: bigint): Run {
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
