import { headers } from "@nats-io/transport-node";
import type { DataSource, EntityManager } from "typeorm";
import { EventConsumer, ensureEventLog, ensureSchemaObjects, type LoggedEvent } from "../eventlog.js";
import type { NatsEventLog } from "./nats.js";
import { PART_SEQ, POSITION, type WireEvent } from "./nats-wire.js";
import type { ConsumerLag } from "./types.js";

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
