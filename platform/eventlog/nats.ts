import { DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JetStreamClient, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { DataSource } from "typeorm";
import type { ConsumerOptions } from "../eventlog.js";
import { JetStreamEventConsumer } from "./nats-consumer.js";
import { OutboxRelay } from "./nats-relay.js";
import { nanos, TOKEN } from "./nats-wire.js";
import type { EventLog } from "./types.js";

export { JetStreamEventConsumer } from "./nats-consumer.js";
export { OutboxRelay } from "./nats-relay.js";

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
