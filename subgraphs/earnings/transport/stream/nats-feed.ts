import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { DataSource, EntityManager } from "typeorm";
import type { NatsEventLog } from "../../../../platform/eventlog/nats.js";
import { ensureSchemaObjects } from "../../../../platform/eventlog.js";
import { feedSubjects, type RoomFeedMessage } from "../../../../platform/feed.js";
import { logger } from "../../../../platform/logger.js";
import { PgListener } from "../../../../platform/pg-listener.js";
import { FEED_CHANNEL, FEED_COLUMNS, toFeedRow, type FeedRow } from "../../domain/feed.js";
import { roomEventOf } from "./room-event.js";

/**
 * Room-feed subjects (with NATS_URL; platform/feed.ts): every earnings.gift_feed row is published
 * to `<feed prefix>.host.<hostId>` (body: the FeedRow as JSON) and, when it belongs to a live
 * session, `<feed prefix>.room.<liveSessionId>` (body: a RoomFeedMessage — the public room event,
 * its seq and the seq of the room's previous row), which the gateways' NATS feed bus subscribes to,
 * one subscription per room per gateway process. `seq` is the same cursor replay uses, and replay
 * still reads gift_feed in PostgreSQL (through earnings' stream). The host subjects have no
 * subscriber yet: the host's private stream stays on the earnings socket (docs/scaling.md).
 */
export { feedSubjects, subjectToken } from "../../../../platform/feed.js";

/** The seq of each room's row before `firstSeq` (0 when none): the `prev` of the room's first row in a batch. */
async function previousInRooms(m: EntityManager, firsts: Map<string, number>): Promise<Map<string, number>> {
  if (firsts.size === 0) return new Map();
  const rows: { id: string; prev: string | null }[] = await m.query(
    `SELECT r.id, (SELECT max(f.seq) FROM earnings.gift_feed f WHERE f.live_session_id = r.id AND f.seq < r.first)::text AS prev
       FROM unnest($1::text[], $2::bigint[]) AS r(id, first)`,
    [[...firsts.keys()], [...firsts.values()]],
  );
  return new Map(rows.map((r) => [r.id, r.prev === null ? 0 : Number(r.prev)]));
}

/**
 * Publishes the feed in seq order, each row once per subject (Nats-Msg-Id `<stream>:<seq>:h|r`),
 * moving its position (`nats-feed-relay` in earnings.consumer_positions, seq in `id`) in the same
 * transaction only after JetStream acked: every earnings instance runs one, the row lock (FOR
 * UPDATE SKIP LOCKED) lets one work at a time.
 */
export class FeedRelay {
  private listener: PgListener | null = null;
  private stopped = true;
  private wake: (() => void) | null = null;
  private poked = false;
  private loop: Promise<void> | null = null;
  private readonly name = "nats-feed-relay";
  /** Feed rows published since start (tests, metrics). */
  published = 0;

  constructor(
    private readonly ds: DataSource,
    private readonly log: NatsEventLog,
    private readonly opts: { batchSize?: number; idleMs?: number; maxAgeMs?: number } = {},
  ) {}

  get stream(): string {
    return `${this.log.opts.stream}_FEED`;
  }

  get subjects(): ReturnType<typeof feedSubjects> {
    return feedSubjects(this.log.opts.feedSubjectPrefix);
  }

  async ensure(): Promise<void> {
    await ensureSchemaObjects(this.ds, [
      `CREATE TABLE IF NOT EXISTS earnings.consumer_positions (
         consumer text PRIMARY KEY, tx xid8 NOT NULL DEFAULT '0', id bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now())`,
    ]);
    // A new relay starts at the end of the feed: live subscribers want what happens from now on (replay reads PostgreSQL).
    await this.ds.query(
      `INSERT INTO earnings.consumer_positions (consumer, id) SELECT $1, coalesce(max(seq), 0) FROM earnings.gift_feed ON CONFLICT (consumer) DO NOTHING`,
      [this.name],
    );
    const jsm = await this.log.jsm();
    const config = {
      name: this.stream,
      subjects: [this.subjects.all],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      // Live fan-out only: a short history, a short duplicate window (subscribers also drop seq they have seen).
      max_age: (this.opts.maxAgeMs ?? 3600_000) * 1_000_000,
      duplicate_window: 120_000 * 1_000_000,
    };
    const exists = await jsm.streams.info(this.stream).then(() => true, () => false);
    if (exists) await jsm.streams.update(this.stream, config);
    else await jsm.streams.add(config);
  }

  async start(): Promise<void> {
    await this.ensure();
    this.stopped = false;
    const url = (this.ds.options as { url?: string }).url!;
    const poke = () => {
      this.poked = true;
      this.wake?.();
    };
    this.listener = new PgListener({ databaseUrl: url, channel: FEED_CHANNEL, name: this.name, onNotify: poke, onListening: poke });
    await this.listener.start();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.listener?.stop();
  }

  /** Publishes at most one batch; returns how many rows. */
  async pollOnce(): Promise<number> {
    return this.ds.transaction(async (m) => {
      const [row]: { id: string }[] = await m.query(`SELECT id::text AS id FROM earnings.consumer_positions WHERE consumer = $1 FOR UPDATE SKIP LOCKED`, [this.name]);
      if (!row) return 0;
      const feed: FeedRow[] = (await m.query(`SELECT ${FEED_COLUMNS} FROM earnings.gift_feed WHERE seq > $1 ORDER BY seq LIMIT $2`, [row.id, this.opts.batchSize ?? 500])).map(toFeedRow);
      if (feed.length === 0) return 0;
      const subjects = this.subjects;
      const bySubject = new Map<string, { id: string; body: string }[]>();
      const push = (subject: string, id: string, body: string) => {
        let list = bySubject.get(subject);
        if (!list) bySubject.set(subject, (list = []));
        list.push({ id, body });
      };
      // Each room message names the room's previous row, so a gateway can tell a gap from a quiet room.
      const firsts = new Map<string, number>();
      for (const f of feed) if (f.liveSessionId && !firsts.has(f.liveSessionId)) firsts.set(f.liveSessionId, f.seq);
      const prev = await previousInRooms(m, firsts);
      for (const f of feed) {
        push(subjects.host(f.hostId), `${this.stream}:${f.seq}:h`, JSON.stringify(f));
        if (!f.liveSessionId) continue;
        const message: RoomFeedMessage = { seq: f.seq, prev: prev.get(f.liveSessionId) ?? 0, event: roomEventOf(f) };
        prev.set(f.liveSessionId, f.seq);
        push(subjects.room(f.liveSessionId), `${this.stream}:${f.seq}:r`, JSON.stringify(message));
      }
      const js = await this.log.js();
      // In order per subject (each acked before the next), subjects side by side.
      await Promise.all(
        [...bySubject].map(async ([subject, list]) => {
          for (const msg of list) await js.publish(subject, msg.body, { msgID: msg.id, timeout: this.log.opts.publishTimeoutMs });
        }),
      );
      await m.query(`UPDATE earnings.consumer_positions SET id = $2, updated_at = now() WHERE consumer = $1`, [this.name, feed[feed.length - 1].seq]);
      this.published += feed.length;
      return feed.length;
    });
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        if ((await this.pollOnce()) > 0) continue;
      } catch (err) {
        if (this.stopped) break;
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, "feed relay batch failed; retrying");
      }
      if (this.poked) {
        this.poked = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, this.opts.idleMs ?? 250);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = null;
      this.poked = false;
    }
  }
}
