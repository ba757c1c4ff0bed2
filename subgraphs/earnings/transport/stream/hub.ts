import { slowConsumerError, streamError, StreamErrorCode } from "../../../../platform/codes.js";
import type { DataSource } from "typeorm";
import { loadStreamMaxQueue } from "../../../../platform/config.js";
import { logger } from "../../../../platform/logger.js";
import { endIdleCombos, FEED_CHANNEL, FEED_COLUMNS, toFeedRow, type FeedRow } from "../../domain/feed.js";
import { Channel } from "../../../../platform/channel.js";
import { PgListener } from "../../../../platform/pg-listener.js";
import { encodeCursor } from "./cursor.js";
import { observeEventLag } from "../../../../platform/metrics.js";
import { eventSpan } from "../../../../platform/tracing.js";

/** Which rows a stream carries. */
export type FeedFilter = { hostId: string; liveSessionId?: string | null } | { hostId?: null; liveSessionId: string };

export interface HubOptions {
  /** Live events a subscriber may have queued before it is closed as too slow. */
  maxQueue?: number;
  /** Rows read per replay page. */
  pageSize?: number;
  /** Fallback poll (lost notifications, listener reconnects) and combo sweep interval. */
  pollMs?: number;
}

/**
 * One per process: ONE LISTEN connection and one reader for all subscribers. On a NOTIFY
 * (sent at commit by appendToFeed) it reads the new rows once (seq > high-water mark) and
 * hands each to the subscribers whose filter matches. Every instance reads the database,
 * so two instances on one database each deliver every event to their own subscribers.
 */
export class FeedHub {
  private readonly listener: PgListener;
  private high = 0;
  private timer: NodeJS.Timeout | null = null;
  private reading: Promise<void> | null = null;
  private again = false;
  private stopped = true;
  private readonly byHost = new Map<string, Set<FeedSubscription>>();
  private readonly bySession = new Map<string, Set<FeedSubscription>>();
  /** Live events a subscriber may have queued before it is closed as too slow. */
  maxQueue: number;
  readonly pageSize: number;
  readonly pollMs: number;
  /** Counters for tests and metrics. */
  readonly stats = { subscribers: 0, opened: 0, closed: 0, rowsRead: 0, delivered: 0, slowClosed: 0 };

  constructor(
    readonly ds: DataSource,
    databaseUrl: string,
    opts: HubOptions = {},
  ) {
    this.maxQueue = opts.maxQueue ?? loadStreamMaxQueue();
    this.pageSize = opts.pageSize ?? 500;
    this.pollMs = opts.pollMs ?? 1000;
    this.listener = new PgListener({
      databaseUrl,
      channel: FEED_CHANNEL,
      name: "earnings-feed-listener",
      onNotify: () => this.wake(),
      onListening: () => this.wake(), // catch up on anything committed while we were not listening
    });
  }

  /** Open LISTEN connections held by this hub (0 or 1). */
  get listeners(): number {
    return this.listener.connections;
  }

  async start(): Promise<void> {
    this.stopped = false;
    const [{ max }] = await this.ds.query(`SELECT coalesce(max(seq), 0)::text AS max FROM earnings.gift_feed`);
    this.high = Number(max);
    await this.listener.start();
    // The poll also covers the time the listener is reconnecting.
    this.timer = setInterval(() => {
      this.wake();
      this.ds.transaction((m) => endIdleCombos(m)).catch((err) => logger.warn({ err: String(err) }, "combo sweep failed"));
    }, this.pollMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.listener.stop();
    await this.reading?.catch(() => undefined);
    for (const set of [...this.byHost.values(), ...this.bySession.values()]) {
      for (const sub of set) sub.fail(streamError(StreamErrorCode.ShuttingDown, "the gift stream is shutting down; resubscribe with your last cursor"));
    }
  }

  /** Reads new rows once for all subscribers; coalesces wake-ups while a read is running. */
  wake(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        await this.readNew();
      } while (this.again && !this.stopped);
    })()
      .catch((err) => logger.warn({ err: err instanceof Error ? err.message : String(err) }, "feed read failed; retrying on next poll"))
      .finally(() => {
        this.reading = null;
      });
  }

  private async readNew(): Promise<void> {
    if (this.stats.subscribers === 0) {
      // Nobody to deliver to: just move the high-water mark.
      const [{ max }] = await this.ds.query(`SELECT coalesce(max(seq), 0)::text AS max FROM earnings.gift_feed`);
      this.high = Math.max(this.high, Number(max));
      return;
    }
    for (;;) {
      const raw: Record<string, unknown>[] = await this.ds.query(`SELECT ${FEED_COLUMNS} FROM earnings.gift_feed WHERE seq > $1 ORDER BY seq LIMIT 1000`, [this.high]);
      for (const r of raw) {
        const row = toFeedRow(r);
        this.high = row.seq;
        this.stats.rowsRead++;
        const subscribers = this.dispatch(row);
        if (subscribers > 0 && row.kind === "gift") {
          observeEventLag("earnings", "delivered", row.sentAt);
          eventSpan("earnings stream deliver", row.traceparent, { "gift.event_id": row.id, "stream.subscribers": subscribers });
        }
      }
      if (raw.length < 1000) return;
    }
  }

  /** Hands a row to the subscribers of its rooms; returns how many rooms' subscribers got it. */
  private dispatch(row: FeedRow): number {
    const host = this.byHost.get(row.hostId);
    const session = row.liveSessionId ? this.bySession.get(row.liveSessionId) : undefined;
    for (const sub of host ?? []) sub.offer(row);
    for (const sub of session ?? []) sub.offer(row);
    return (host?.size ?? 0) + (session?.size ?? 0);
  }

  /** Room sizes and queued live events, for /metrics (a distribution: no room ids leave the process). */
  roomStats(): { hostRooms: number[]; sessionRooms: number[]; queued: number; maxQueued: number } {
    let queued = 0;
    let maxQueued = 0;
    for (const set of [...this.byHost.values(), ...this.bySession.values()]) {
      for (const sub of set) {
        queued += sub.queued;
        maxQueued = Math.max(maxQueued, sub.queued);
      }
    }
    return { hostRooms: [...this.byHost.values()].map((s) => s.size), sessionRooms: [...this.bySession.values()].map((s) => s.size), queued, maxQueued };
  }

  /**
   * A stream of feed rows: replays rows after `afterSeq` from the database (when given),
   * then tails live, with no gap and no duplicate at the seam. The live registration
   * happens first, so nothing committed during the replay is missed; seq dedupes.
   */
  subscribe(filter: FeedFilter, afterSeq: number | null): FeedSubscription {
    const sub = new FeedSubscription(this, filter, afterSeq);
    const [map, key] = filter.liveSessionId ? [this.bySession, filter.liveSessionId] : [this.byHost, filter.hostId!];
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    set.add(sub);
    this.stats.subscribers++;
    this.stats.opened++;
    sub.onRelease = () => {
      set!.delete(sub);
      if (set!.size === 0 && map.get(key) === set) map.delete(key);
      this.stats.subscribers--;
      this.stats.closed++;
    };
    return sub;
  }

  /** Rows of one stream after `afterSeq`, in order (replay). */
  async page(filter: FeedFilter, afterSeq: number, limit: number): Promise<FeedRow[]> {
    const rows: Record<string, unknown>[] = filter.liveSessionId
      ? await this.ds.query(
        `SELECT ${FEED_COLUMNS} FROM earnings.gift_feed WHERE live_session_id = $1 AND ($2::text IS NULL OR host_id = $2) AND seq > $3 ORDER BY seq LIMIT $4`,
        [filter.liveSessionId, filter.hostId ?? null, afterSeq, limit],
      )
      : await this.ds.query(`SELECT ${FEED_COLUMNS} FROM earnings.gift_feed WHERE host_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [filter.hostId, afterSeq, limit]);
    return rows.map(toFeedRow);
  }
}

export class FeedSubscription implements AsyncIterableIterator<FeedRow> {
  private replaying: boolean;
  private replayBuf: FeedRow[] = [];
  private caughtUp = false;
  /** Live rows that arrived during the replay (bounded; on overflow the replay re-reads instead). */
  private pending: FeedRow[] = [];
  private pendingOverflow = false;
  private lastSeq: number;
  private lastAccepted: number;
  private readonly live: Channel<FeedRow>;
  private done = false;
  onRelease: () => void = () => {};

  /** Live events waiting to be sent to this subscriber. */
  get queued(): number {
    return this.live.size;
  }

  constructor(
    private readonly hub: FeedHub,
    private readonly filter: FeedFilter,
    afterSeq: number | null,
  ) {
    this.replaying = afterSeq !== null;
    this.lastSeq = this.lastAccepted = afterSeq ?? 0;
    this.live = new Channel<FeedRow>(
      hub.maxQueue,
      () => {
        hub.stats.slowClosed++;
        return slowConsumerError(
          `too slow: more than ${hub.maxQueue} gifts queued; resubscribe with after: your last cursor`,
          this.lastAccepted > 0 ? encodeCursor(this.lastAccepted) : null,
        );
      },
      () => this.release(),
    );
  }

  private released = false;
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.onRelease();
  }

  /** Called by the hub for every matching committed row, in seq order. */
  offer(row: FeedRow): void {
    if (this.filter.hostId && row.hostId !== this.filter.hostId) return;
    if (this.replaying) {
      if (this.pending.length >= this.hub.maxQueue) {
        this.pending = [];
        this.pendingOverflow = true;
      } else if (!this.pendingOverflow) this.pending.push(row);
      return;
    }
    if (row.seq <= this.lastAccepted) return;
    if (this.live.push(row)) this.lastAccepted = row.seq;
  }

  fail(e: unknown): void {
    this.live.fail(e);
  }

  async next(): Promise<IteratorResult<FeedRow>> {
    while (this.replaying && !this.done) {
      if (this.replayBuf.length > 0) {
        const row = this.replayBuf.shift()!;
        this.lastSeq = this.lastAccepted = row.seq;
        this.hub.stats.delivered++;
        return { value: row, done: false };
      }
      if (this.caughtUp) {
        if (this.pendingOverflow) {
          // Rows were dropped from `pending` while we replayed: read the database again.
          this.pendingOverflow = false;
          this.caughtUp = false;
          continue;
        }
        this.replaying = false;
        for (const row of this.pending) this.offer(row);
        this.pending = [];
        break;
      }
      let page: FeedRow[];
      try {
        page = await this.hub.page(this.filter, this.lastSeq, this.hub.pageSize);
      } catch (err) {
        // graphql-ws does not call return() after a throw: unregister here.
        await this.return();
        logger.warn({ err: err instanceof Error ? err.message : String(err) }, "gift stream replay failed");
        throw streamError(StreamErrorCode.StreamUnavailable, "the gift stream could not be read; resubscribe with your last cursor");
      }
      if (this.done) break;
      this.replayBuf = page;
      this.caughtUp = page.length < this.hub.pageSize;
    }
    if (this.done) return { value: undefined, done: true };
    const r = await this.live.next();
    if (!r.done) {
      this.lastSeq = r.value.seq;
      this.hub.stats.delivered++;
    }
    return r;
  }

  return(): Promise<IteratorResult<FeedRow>> {
    this.done = true;
    return this.live.return();
  }

  throw(e?: unknown): Promise<IteratorResult<FeedRow>> {
    this.done = true;
    return this.live.throw(e);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<FeedRow> {
    return this;
  }
}
