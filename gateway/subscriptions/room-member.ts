import { GraphQLError, type ExecutionResult } from "graphql";
import WebSocket from "ws";
import type { RoomHost } from "./rooms.js";
import { StreamErrorCode } from "../../platform/codes.js";
import { slowConsumer } from "./stream-errors.js";

/** Set by the per-client path on each result it produces: the event's upstream cursor (never serialized). */
export const STREAM_CURSOR = Symbol("streamCursor");
export type CursoredResult = ExecutionResult & { [STREAM_CURSOR]?: string | null };

/** A per-client stream (the old path) that a resuming room member replays from until the seam. */
export interface PrivateStream {
  next(): Promise<IteratorResult<CursoredResult>>;
  return(): Promise<unknown>;
}

export interface Frame {
  /** The serialized `payload` of a graphql-ws `next` message, shared by every member of the shape. */
  payload: string;
  cursor: string | null;
}

/**
 * One viewer's subscription in a room. graphql-ws consumes it as the subscription's iterator,
 * but it never yields: frames are written straight to the viewer's socket (the payload is
 * serialized once per shape), bounded by the socket's bufferedAmount. Ending it (SLOW_CONSUMER,
 * the room's upstream failing) rejects next(), which graphql-ws turns into an `error` message
 * after everything already written.
 */
export class RoomMember implements AsyncIterableIterator<never> {
  lastCursor: string | null = null;
  done = false;
  catchUp: CatchUp | null = null;
  private readonly idJson: string;
  private waiting: { resolve: (r: IteratorResult<never>) => void; reject: (e: unknown) => void } | null = null;
  private outcome: { error: unknown } | { error?: undefined } | null = null;
  onEnd: () => void = () => {};

  constructor(
    readonly socket: WebSocket,
    id: string,
    private readonly host: RoomHost,
  ) {
    this.idJson = JSON.stringify(id);
  }

  /** A frame of the shared live tail (or, while catching up, a candidate for the seam). */
  offer(frame: Frame): void {
    if (this.done) return;
    if (this.catchUp) this.catchUp.onLive(frame);
    else this.write(frame);
  }

  /** Writes one frame to the socket; false (and the member ended) when the socket's buffer is over the bound. */
  write(frame: Frame): boolean {
    if (this.done) return false;
    if (this.socket.readyState !== WebSocket.OPEN) return false; // the close ends us through graphql-ws
    const message = `{"id":${this.idJson},"type":"next","payload":${frame.payload}}`;
    const max = this.host.config.maxBufferedBytes;
    if (this.socket.bufferedAmount + message.length > max) {
      this.host.stats.slowClosed++;
      this.fail(slowConsumer(`more than ${max} bytes waiting to be written to this client`, this.lastCursor));
      return false;
    }
    this.socket.send(message);
    if (frame.cursor) this.lastCursor = frame.cursor;
    return true;
  }

  fail(error: unknown): void {
    this.finish({ error });
  }

  complete(): void {
    this.finish({});
  }

  private finish(outcome: { error?: unknown }): void {
    if (this.done) return;
    this.done = true;
    this.outcome = outcome;
    this.catchUp?.stop();
    this.catchUp = null;
    this.onEnd();
    const w = this.waiting;
    this.waiting = null;
    if (w) {
      if (outcome.error !== undefined) w.reject(outcome.error);
      else w.resolve({ value: undefined as never, done: true });
    }
  }

  next(): Promise<IteratorResult<never>> {
    if (this.outcome) {
      const o = this.outcome;
      this.outcome = { error: undefined };
      return o.error !== undefined ? Promise.reject(o.error) : Promise.resolve({ value: undefined as never, done: true });
    }
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  /** The client left (complete, socket closed): leave the room at once. */
  return(): Promise<IteratorResult<never>> {
    this.finish({});
    return Promise.resolve({ value: undefined as never, done: true });
  }

  throw(e?: unknown): Promise<IteratorResult<never>> {
    this.finish({});
    return Promise.reject(e);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<never> {
    return this;
  }
}

/**
 * A member resuming from a cursor the room no longer (or never) had: its own upstream replays
 * `after` (the per-client path, the viewer's token), while the room's live frames are held for it.
 * Both are the same ordered stream, so the first event they have in common is the seam: frames
 * after it come from the room, nothing twice, nothing skipped.
 */
export class CatchUp {
  private readonly held: Frame[] = [];
  private readonly given = new Set<string>();
  private readonly givenOrder: string[] = [];
  private stopped = false;
  /** Set when the replay got ahead of the room: room frames up to this cursor were given already. */
  private skipUntil: string | null = null;

  constructor(
    private readonly member: RoomMember,
    private readonly stream: PrivateStream,
    private readonly bound: number,
    private readonly maxBufferedBytes: number,
  ) {}

  async run(): Promise<void> {
    try {
      while (!this.stopped) {
        // Backpressure: read the private stream only as fast as the client takes it (its upstream then pauses).
        while (!this.stopped && this.member.socket.bufferedAmount > this.maxBufferedBytes / 2) await new Promise((r) => setTimeout(r, 5));
        if (this.stopped) return;
        const r = await this.stream.next();
        if (this.stopped) return;
        if (r.done) {
          this.member.complete();
          return;
        }
        const cursor = r.value[STREAM_CURSOR] ?? null;
        const frame: Frame = { payload: JSON.stringify(r.value), cursor };
        const seam = cursor ? this.held.findIndex((f) => f.cursor === cursor) : -1;
        if (!this.member.write(frame)) return;
        if (seam >= 0) {
          const after = this.held.slice(seam + 1);
          this.join();
          for (const f of after) if (!this.member.write(f)) return;
          return;
        }
        if (cursor) this.remember(cursor);
      }
    } catch (err) {
      if (this.stopped) return;
      const e = err as GraphQLError;
      // The private path's SLOW_CONSUMER knows its own last cursor; ours is what this client was actually given.
      if (e?.extensions?.code === StreamErrorCode.SlowConsumer) this.member.fail(slowConsumer("replaying missed events", this.member.lastCursor));
      else this.member.fail(err);
    }
  }

  /** A live frame from the room while we replay. */
  onLive(frame: Frame): void {
    if (this.skipUntil !== null) {
      // The replay was ahead of the room: drop the room's frames up to the last one the replay gave.
      if (frame.cursor === this.skipUntil) this.member.catchUp = null;
      return;
    }
    if (frame.cursor && this.given.has(frame.cursor)) {
      // The replay already gave this event (and maybe more): the room's frames after the last one given are new.
      const last = this.givenOrder[this.givenOrder.length - 1];
      this.stop();
      if (frame.cursor === last) this.member.catchUp = null;
      else this.skipUntil = last;
      return;
    }
    this.held.push(frame);
    if (this.held.length > this.bound) this.held.shift();
  }

  private remember(cursor: string): void {
    this.given.add(cursor);
    this.givenOrder.push(cursor);
    if (this.givenOrder.length > this.bound) this.given.delete(this.givenOrder.shift()!);
  }

  /** The seam: the member is live on the room from here; its private upstream ends. */
  private join(): void {
    this.member.catchUp = null;
    this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.held.length = 0;
    void this.stream.return().catch(() => undefined);
  }
}

