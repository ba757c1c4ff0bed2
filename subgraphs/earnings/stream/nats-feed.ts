import { DiscardPolicy, RetentionPolicy, StorageType } from "@nats-io/jetstream";
import type { DataSource } from "typeorm";
import type { NatsEventLog } from "../../../platform/eventlog/nats.js";
import { logger } from "../../../platform/logger.js";
import { PgListener } from "../../../platform/pg-listener.js";
import { FEED_CHANNEL, FEED_COLUMNS, toFeedRow, type FeedRow } from "../domain/feed.js";

/**
 * Room-feed subjects (with NATS_URL): every earnings.gift_feed row is published to
 * `feed.host.<hostId>` and, when it belongs to a live session, `feed.room.<liveSessionId>`, so a
 * gateway can subscribe once per room instead of holding a socket to earnings (the gateway side
 * comes with its fan-out rewrite). The body is the FeedRow as JSON; `seq` is the same cursor
 * replay uses, and replay still reads gift_feed in PostgreSQL.
 */
export const FEED_SUBJECT_PREFIX = "feed";
const SAFE = /^[A-Za-z0-9_-]{1,128}$/;

/** One subject token for an id: as it is when NATS-safe, otherwise `~` + base64url (ids may hold dots or spaces). */
export function subjectToken(id: string): string {
  return SAFE.test(id) ? id : `~${Buffer.from(id, "utf8").toString("base64url")}`;
}
export const feedSubjects = {
  host: (hostId: string) => `${FEED_SUBJECT_PREFIX}.host.${subjectToken(hostId)}`,
  room: (liveSessionId: string) => `${FEED_SUBJECT_PREFIX}.room.${subjectToken(liveSessionId)}`,
};

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

  async ensure(): Promise<void> {
    await this.ds.query(
      `CREATE TABLE IF NOT EXISTS earnings.consumer_positions (
         consumer text PRIMARY KEY, tx xid8 NOT NULL DEFAULT '0', id bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now())`,
    );
    // A new relay starts at the end of the feed: live subscribers want what happens from now on (replay reads PostgreSQL).
    await this.ds.query(
      `INSERT INTO earnings.consumer_positions (consumer, id) SELECT $1, coalesce(max(seq), 0) FROM earnings.gift_feed ON CONFLICT (consumer) DO NOTHING`,
      [this.name],
    );
    const jsm = await this.log.jsm();
    const config = {
      name: this.stream,
      subjects: [`${FEED_SUBJECT_PREFIX}.>`],
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
      const bySubject = new Map<string, { id: string; body: string }[]>();
      for (const f of feed) {
        const body = JSON.stringify(f);
        const targets: [string, string][] = [[feedSubjects.host(f.hostId), "h"]];
        if (f.liveSessionId) targets.push([feedSubjects.room(f.liveSessionId), "r"]);
        for (const [subject, kind] of targets) bySubject.set(subject, [...(bySubject.get(subject) ?? []), { id: `${this.stream}:${f.seq}:${kind}`, body }]);
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
