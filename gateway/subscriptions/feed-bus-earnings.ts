import type { ExecutionResult } from "graphql";
import type { Client } from "graphql-ws";
import { encodeFeedCursor, feedCursorSeq, ROOM_EVENT_SELECTION, type RoomFeedEvent } from "../../platform/feed.js";
import { logger } from "../../platform/logger.js";
import type { FeedBus, FeedBusStats, FeedSink, FeedSubscription } from "./feed-bus.js";
import { REFUSING_CLOSE_CODES, StreamErrorCode } from "../../platform/codes.js";
import { upstreamError } from "./stream-errors.js";

/** The one operation of this bus: a room's public feed, every row field, from a cursor. */
export const FEED_BUS_QUERY = `subscription FeedBus($liveSessionId: ID!, $after: String) { liveGiftFeed(liveSessionId: $liveSessionId, after: $after) ${ROOM_EVENT_SELECTION} }`;

/** Resubscriptions from the last cursor allowed in a row without an event in between. */
const MAX_RESUBSCRIBES = 3;

/**
 * The PostgreSQL feed bus: each room is one graphql-ws subscription to earnings' `liveGiftFeed`
 * (PostgreSQL NOTIFY behind it: docs/streaming.md "Fan-out across instances") on the gateway's one
 * upstream socket per subgraph, carrying the gateway's service credential and no viewer. Earnings
 * replays `after` from gift_feed itself, so a resume and a resubscription after a drop are exact.
 * It is also the NATS bus's durable log: what NATS missed is read here.
 */
export class EarningsFeedBus implements FeedBus {
  readonly transport = "postgres" as const;

  constructor(
    /** The upstream graphql-ws client to earnings (shared with the socket-fed rooms). */
    private readonly client: () => Client,
    readonly stats: FeedBusStats,
  ) {}

  subscribe(liveSessionId: string, after: number | null, sink: FeedSink): FeedSubscription {
    const sub = new EarningsFeedSubscription(this.client, this.stats, liveSessionId, after, sink);
    sub.start();
    return sub;
  }

  async close(): Promise<void> {
    // The client belongs to the caller (RoomUpstreams disposes it).
  }
}

class EarningsFeedSubscription implements FeedSubscription {
  private dispose: (() => void) | null = null;
  private resubscribes = 0;
  private closed = false;

  constructor(
    private readonly client: () => Client,
    private readonly stats: FeedBusStats,
    private readonly liveSessionId: string,
    /** The last seq delivered (dedupe, resubscription); null until the first row when starting live. */
    private last: number | null,
    private readonly sink: FeedSink,
  ) {}

  start(): void {
    if (this.closed) return;
    this.stats.upstreamSubscriptions++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.stats.upstreamSubscriptions--;
    };
    let stop: () => void;
    try {
      stop = this.client().subscribe<{ liveGiftFeed: RoomFeedEvent }>(
        { query: FEED_BUS_QUERY, variables: { liveSessionId: this.liveSessionId, after: this.last === null ? null : encodeFeedCursor(this.last) } },
        {
          next: (r) => this.onNext(r as ExecutionResult<{ liveGiftFeed: RoomFeedEvent }>),
          error: (err) => {
            release();
            this.onError(err);
          },
          complete: () => {
            release();
            this.end(() => this.sink.complete());
          },
        },
      );
    } catch (err) {
      release();
      this.end(() => this.sink.error(upstreamError(err)));
      return;
    }
    this.dispose = () => {
      release();
      stop();
    };
  }

  private onNext(r: ExecutionResult<{ liveGiftFeed: RoomFeedEvent }>): void {
    if (this.closed) return;
    const event = r.data?.liveGiftFeed;
    const seq = event?.cursor ? feedCursorSeq(event.cursor) : null;
    if (!event || seq === null) {
      // Every selected field comes from the row: an event without data is a fault of earnings, not of one viewer.
      logger.warn({ errors: r.errors?.map((e) => e.message) }, "feed bus: an event without data from earnings; skipped");
      return;
    }
    this.resubscribes = 0;
    if (this.last !== null && seq <= this.last) {
      this.stats.busDuplicates++;
      return;
    }
    this.last = seq;
    this.sink.next({ seq, event });
  }

  private onError(err: unknown): void {
    if (this.closed) return;
    this.dispose = null;
    const e = upstreamError(err);
    const code = e.extensions?.code;
    const closeCode = e.extensions?.upstreamCloseCode as number | undefined;
    // Earnings cut us off as slow, our credential expired, or the socket dropped (a missed keep-alive
    // under load, a restart): pick up exactly where we were (earnings replays from the cursor), unseen
    // by the room. A refusal, three tries in a row without an event, or no cursor yet (a resubscription
    // could not say where the room was) end the feed instead.
    const resumable = code === StreamErrorCode.SlowConsumer || (closeCode !== undefined && !REFUSING_CLOSE_CODES.has(closeCode));
    if (resumable && this.last !== null && this.resubscribes < MAX_RESUBSCRIBES) {
      const attempt = this.resubscribes++;
      this.stats.roomResubscribes++;
      logger.warn({ liveSessionId: this.liveSessionId, code: code ?? closeCode, attempt }, "room feed resubscribing from its last cursor");
      const retry = setTimeout(() => this.start(), 100 * 2 ** attempt);
      retry.unref();
      this.dispose = () => clearTimeout(retry);
      return;
    }
    this.end(() => this.sink.error(e));
  }

  private end(tell: () => void): void {
    if (this.closed) return;
    this.closed = true;
    this.dispose = null;
    tell();
  }

  unsubscribe(): void {
    if (this.closed) return;
    this.closed = true;
    const d = this.dispose;
    this.dispose = null;
    d?.();
  }
}
