import type { GraphQLError } from "graphql";
import { connect, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import { feedSubjects, type RoomFeedMessage } from "../../platform/feed.js";
import { logger } from "../../platform/logger.js";
import type { FeedBus, FeedBusStats, FeedEvent, FeedSink, FeedSubscription, RoomCheck } from "./feed-bus.js";
import { streamError, StreamErrorCode } from "../../platform/codes.js";

export interface NatsFeedBusOptions {
  url: string;
  /** Subject prefix of the room feed (NATS_FEED_SUBJECT_PREFIX; rooms are `<prefix>.room.<liveSessionId>`). */
  feedSubjectPrefix?: string;
  /** Connection name (visible in the server's connz). */
  name?: string;
  /** How long the first connection may take before rooms read earnings' stream meanwhile. */
  connectGraceMs?: number;
  /** Messages a room holds while its replay fills a gap (older ones are dropped: the replay has them). */
  heldMax?: number;
  /** Refuses unknown rooms (a subject does not know whether its room exists; earnings' stream refuses them itself). */
  check?: RoomCheck;
}

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

function isRoomMessage(m: unknown): m is RoomFeedMessage {
  const x = m as RoomFeedMessage | null;
  return !!x && Number.isSafeInteger(x.seq) && Number.isSafeInteger(x.prev) && !!x.event && typeof x.event.cursor === "string";
}

/**
 * The NATS feed bus: one core NATS subscription per room per gateway process on
 * `feed.room.<liveSessionId>` (earnings' FeedRelay publishes every room row there, in seq order).
 * NATS core delivery is at most once, so every message says which row came before it in the room
 * (`prev`): a message whose `prev` this room has not delivered means rows were missed (a reconnect,
 * a relay fail-over), and they are replayed from the durable log (earnings' stream, PostgreSQL) up
 * to the seam; copies (`seq` already delivered) are dropped. A resume from a cursor is the same
 * replay. While NATS is unreachable, rooms read earnings' stream: a NATS outage is not even a delay.
 */
export class NatsFeedBus implements FeedBus {
  readonly transport = "nats" as const;
  private nc: NatsConnection | null = null;
  private connecting: Promise<void> | null = null;
  /** down: not connected (yet, or any more); rooms read the durable log meanwhile. */
  private state: "connecting" | "up" | "down" = "connecting";
  private readonly subs = new Set<NatsFeedSubscription>();
  private closed = false;
  readonly subjects: ReturnType<typeof feedSubjects>;

  constructor(
    readonly opts: NatsFeedBusOptions,
    /** Where replays come from: earnings' stream over PostgreSQL. */
    readonly durable: FeedBus,
    readonly stats: FeedBusStats,
  ) {
    this.subjects = feedSubjects(opts.feedSubjectPrefix);
  }

  get heldMax(): number {
    return this.opts.heldMax ?? 10_000;
  }

  get connected(): boolean {
    return this.state === "up";
  }

  subscribe(liveSessionId: string, after: number | null, sink: FeedSink): FeedSubscription {
    const sub = new NatsFeedSubscription(this, liveSessionId, after, sink);
    this.subs.add(sub);
    this.stats.busSubscriptions++;
    this.connect();
    if (this.nc) sub.attach(this.nc);
    // A resume reads the durable log from its cursor until the tail meets it; so does every room while NATS is down.
    if (after !== null || this.state === "down") sub.replay();
    if (this.opts.check) void this.opts.check(liveSessionId).then((refused) => refused && sub.refuse(refused));
    return sub;
  }

  /** Resolves when every subscription so far is registered at the server (tests: "the room is live"). */
  async flushed(): Promise<void> {
    await this.connecting;
    await this.nc?.flush();
  }

  /** Every NATS subscription the rooms made, until it closes. */
  readonly natsSubscriptions = new Set<Subscription>();

  /** NATS subscriptions open on the connection now (tests: "unsubscribe releases"). */
  openSubscriptions(): number {
    for (const s of this.natsSubscriptions) if (s.isClosed()) this.natsSubscriptions.delete(s);
    return this.natsSubscriptions.size;
  }

  forget(sub: NatsFeedSubscription): void {
    if (this.subs.delete(sub)) this.stats.busSubscriptions--;
  }

  /** The connection opens with the first room and reconnects forever (an outage is a delay for NATS, not for viewers). */
  private connect(): void {
    if (this.connecting || this.closed) return;
    const grace = setTimeout(() => this.state !== "up" && this.down(), this.opts.connectGraceMs ?? 2_000);
    grace.unref();
    this.connecting = connect({ servers: this.opts.url, name: this.opts.name ?? "gateway-feed", reconnect: true, maxReconnectAttempts: -1, reconnectTimeWait: 250, waitOnFirstConnect: true, pingInterval: 10_000, maxPingOut: 2 }).then(
      (nc) => {
        clearTimeout(grace);
        if (this.closed) return void nc.close().catch(() => undefined);
        this.nc = nc;
        this.state = "up";
        for (const s of this.subs) s.attach(nc);
        void this.watch(nc);
      },
      (err) => {
        clearTimeout(grace);
        logger.error({ err: errText(err) }, "feed bus: cannot connect to NATS; rooms read earnings' stream, retrying");
        this.down();
        const retry = setTimeout(() => {
          this.connecting = null;
          if (this.subs.size > 0) this.connect();
        }, 1_000);
        retry.unref();
      },
    );
  }

  private async watch(nc: NatsConnection): Promise<void> {
    void nc.closed().then(() => {
      if (this.nc !== nc) return;
      this.nc = null;
      this.connecting = null;
      if (this.closed) return;
      this.down();
      for (const s of this.subs) s.detach();
      if (this.subs.size > 0) this.connect();
    });
    try {
      for await (const s of nc.status()) {
        if (s.type === "disconnect") this.down();
        else if (s.type === "reconnect") this.state = "up";
      }
    } catch {
      // the iterator ends with the connection
    }
  }

  /** NATS went away: every room reads the durable log from where it is until the tail proves itself again. */
  private down(): void {
    if (this.closed) return;
    this.state = "down";
    for (const s of this.subs) s.replay();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of [...this.subs]) s.unsubscribe();
    const nc = this.nc;
    this.nc = null;
    await nc?.close().catch(() => undefined);
  }
}

/**
 * One room on the NATS bus. Delivers rows in seq order, each once: from the tail while it is
 * contiguous (each message's `prev` delivered), else from a replay of the durable log from the last
 * row delivered, holding the tail's messages until the replay reaches them (the seam).
 */
class NatsFeedSubscription implements FeedSubscription {
  private sub: Subscription | null = null;
  private durable: FeedSubscription | null = null;
  /** Tail messages waiting for the replay to reach them, in seq order. */
  private held: RoomFeedMessage[] = [];
  private closed = false;

  constructor(
    private readonly bus: NatsFeedBus,
    private readonly liveSessionId: string,
    /** The last seq delivered; null until the first row when starting live. */
    private last: number | null,
    private readonly sink: FeedSink,
  ) {}

  attach(nc: NatsConnection): void {
    if (this.closed || this.sub) return;
    this.sub = nc.subscribe(this.bus.subjects.room(this.liveSessionId), { callback: (err, msg) => this.onMessage(err, msg) });
    this.bus.natsSubscriptions.add(this.sub);
  }

  /** The connection closed for good: a new one attaches a new subscription. */
  detach(): void {
    this.sub = null;
  }

  private onMessage(err: Error | null, msg: Msg): void {
    if (this.closed) return;
    if (err) {
      logger.warn({ err: errText(err), room: this.liveSessionId }, "feed bus: subscription error");
      return;
    }
    let m: unknown;
    try {
      m = msg.json();
    } catch {
      m = null;
    }
    if (!isRoomMessage(m)) {
      logger.warn({ subject: msg.subject }, "feed bus: not a room feed message; skipped");
      return;
    }
    this.onTail(m);
  }

  private onTail(m: RoomFeedMessage): void {
    if (this.last !== null && m.seq <= this.last) {
      this.bus.stats.busDuplicates++;
      // The tail is at (or behind) what the replay gave: it carries on from here, each message checked by its prev.
      if (this.durable && this.held.length === 0) this.stopReplay();
      return;
    }
    if (this.durable) {
      this.hold(m);
      this.drain();
      return;
    }
    if (this.last === null || m.prev <= this.last) return this.deliver(m);
    // Rows between what we delivered and this message's predecessor never reached us: replay them.
    this.bus.stats.busGaps++;
    logger.info({ room: this.liveSessionId, delivered: this.last, prev: m.prev, seq: m.seq }, "feed bus: gap in a room's subject; replaying from earnings");
    this.hold(m);
    this.replay();
  }

  private hold(m: RoomFeedMessage): void {
    this.held.push(m);
    if (this.held.length > this.bus.heldMax) this.held.shift(); // the replay delivers it anyway
  }

  private deliver(m: { seq: number; event: RoomFeedMessage["event"] }): void {
    this.last = m.seq;
    this.sink.next({ seq: m.seq, event: m.event });
  }

  /** Hands over held tail messages that continue what was delivered; ends the replay once the tail is contiguous again. */
  private drain(): void {
    // Starting without a row (NATS was down): trust nothing of the tail until the replay gave a first row.
    if (this.last === null) return;
    let joined = false;
    while (this.held.length > 0 && !this.closed) {
      const h = this.held[0];
      if (h.seq <= this.last) {
        this.held.shift();
        this.bus.stats.busDuplicates++;
        joined = true;
      } else if (h.prev <= this.last) {
        this.held.shift();
        this.deliver(h);
        joined = true;
      } else break;
    }
    if (joined && this.held.length === 0 && this.bus.connected) this.stopReplay();
  }

  /** Reads the durable log from the last row delivered (or live, when none yet) until the tail meets it. */
  replay(): void {
    if (this.closed || this.durable) return;
    this.bus.stats.busReplays++;
    this.durable = this.bus.durable.subscribe(this.liveSessionId, this.last, {
      next: (e) => this.onReplay(e),
      error: (err) => this.replayEnded(err),
      complete: () => this.replayEnded(streamError(StreamErrorCode.StreamInterrupted, "earnings ended the room's feed; resubscribe with after: your last cursor")),
    });
  }

  private onReplay(e: FeedEvent): void {
    if (this.closed) return;
    if (this.last !== null && e.seq <= this.last) {
      this.bus.stats.busDuplicates++;
      return;
    }
    this.deliver(e);
    this.drain();
  }

  /** The room does not exist: end it with the refusal. */
  refuse(err: GraphQLError): void {
    if (this.closed) return;
    this.close();
    this.sink.error(err);
  }

  private replayEnded(err: GraphQLError): void {
    this.durable = null;
    if (this.closed) return;
    // Without the durable log a gap cannot be filled, nor a room fed while NATS is down: end the room (viewers resume with their cursors).
    this.close();
    this.sink.error(err);
  }

  private stopReplay(): void {
    const d = this.durable;
    this.durable = null;
    d?.unsubscribe();
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.held = [];
    this.stopReplay();
    const s = this.sub;
    this.sub = null;
    s?.unsubscribe();
    this.bus.forget(this);
  }

  unsubscribe(): void {
    this.close();
  }
}
