import { GraphQLError, Kind, parse, print, visit, type ExecutionResult, type FieldNode } from "graphql";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { logger } from "../../platform/logger.js";
import type { RoomStreamConfig } from "../config.js";
import type { PlannedSubscription, SubscriptionExecutor, SubscriptionRequestContext } from "./executor.js";
import { CURSOR_ALIAS, type RoomShape } from "./shareable.js";
import { slowConsumer, StreamErrorCode, upstreamError } from "./stream-errors.js";

/** Set by the per-client path on each result it produces: the event's upstream cursor (never serialized). */
export const STREAM_CURSOR = Symbol("streamCursor");
export type CursoredResult = ExecutionResult & { [STREAM_CURSOR]?: string | null };

/** A per-client stream (the old path) that a resuming room member replays from until the seam. */
export interface PrivateStream {
  next(): Promise<IteratorResult<CursoredResult>>;
  return(): Promise<unknown>;
}

/** What the room machinery needs from its SubscriptionGateway. */
export interface RoomHost {
  readonly config: RoomStreamConfig;
  /** Events a shape may have in execution before its members are ended as too slow (the gateway fell behind). */
  readonly hardCap: number;
  readonly stats: RoomStats & { subscriptions: number; opened: number; upstreamSubscriptions: number; upstreamSockets: number; slowClosed: number };
  /**
   * connection_init of a room's upstream: the gateway's service credential and no viewer (the room
   * is a public feed shared by every viewer; earnings treats it as an anonymous follower).
   */
  roomConnectionParams(service: string): Promise<Record<string, string>>;
  /** The per-client path with the viewer's own upstream: replays `after` for one member until it meets the room. */
  openPrivate(plan: PlannedSubscription, variables: Record<string, unknown> | undefined, ctx: SubscriptionRequestContext & { extra: { socket: WebSocket } }, upstreamQuery: string): PrivateStream;
}

export interface RoomStats {
  /** Rooms with an upstream subscription (one per public stream and selection, per gateway process). */
  rooms: number;
  /** Downstream subscriptions served by rooms. */
  roomMembers: number;
  /** Plan executions of room events (once per event per shape, not per viewer). */
  roomExecutions: number;
  /** Resumes answered from a room's recent events, without an upstream replay. */
  roomReplays: number;
  /** Resumes that replayed through their own upstream until the seam. */
  roomCatchUps: number;
  /** Room upstreams resubscribed from their last cursor (earnings cut them off as slow, or the credential expired). */
  roomResubscribes: number;
}

export const emptyRoomStats = (): RoomStats => ({ rooms: 0, roomMembers: 0, roomExecutions: 0, roomReplays: 0, roomCatchUps: 0, roomResubscribes: 0 });

/** Only this viewer's ws socket and graphql-ws subscription id: what a member writes frames with. */
export interface MemberContext extends SubscriptionRequestContext {
  id: string;
  extra: { socket: WebSocket };
}

const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

/** Upstream resubscriptions from the last cursor allowed in a row without an event in between. */
const MAX_RESUBSCRIBES = 3;
/** Upstream close codes that refuse the subscription (resubscribing would be refused again). */
const REFUSALS = new Set([1002, 1003, 1007, 1008, 1009, 4400, 4403, 4406, 4409, 4429, 4500]);

/**
 * ONE upstream graphql-ws connection per owning subgraph for all rooms of this gateway process,
 * authenticated with the gateway's service credential (not a viewer's token). Lazy: it opens with
 * the first room and closes when the last room's subscription ends.
 */
class RoomUpstreams {
  private readonly clients = new Map<string, Client>();
  /** The open upstream sockets (one per owning subgraph at most): metrics, and fault tests drop them. */
  readonly sockets = new Set<WebSocket>();

  constructor(
    private readonly urls: Record<string, string>,
    private readonly stats: RoomHost["stats"],
    private readonly credential: (service: string) => Promise<Record<string, string>>,
  ) {}

  client(service: string): Client {
    let client = this.clients.get(service);
    if (client) return client;
    const url = this.urls[service];
    if (!url) throw new GraphQLError(`no URL for subgraph ${service}`, { extensions: { code: "INTERNAL_SERVER_ERROR" } });
    const sockets = this.sockets;
    class TrackedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets.add(this);
        this.once("close", () => sockets.delete(this));
      }
    }
    client = createClient({
      url: wsUrl(url),
      webSocketImpl: TrackedWebSocket,
      // Called on every (re)connect: a fresh credential each time.
      connectionParams: () => this.credential(service),
      lazy: true,
      lazyCloseTimeout: 0, // rooms linger themselves; the socket closes with the last one
      retryAttempts: 0, // a dropped upstream ends the room's subscriptions with STREAM_INTERRUPTED: clients resume with their cursor
      keepAlive: 10_000,
    });
    let open = false;
    client.on("connected", () => {
      open = true;
      this.stats.upstreamSockets++;
    });
    client.on("closed", () => {
      if (open) this.stats.upstreamSockets--;
      open = false;
    });
    this.clients.set(service, client);
    return client;
  }

  async dispose(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.dispose()));
  }
}

interface Frame {
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
class CatchUp {
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

/**
 * The members of one room that receive the same result: same document, variables (without
 * `after`) and visibility. With `shared`, each event is executed once and serialized once for all
 * of them; otherwise (the rest of the plan asks a caller-dependent field) the shape has exactly one
 * member and executes with that viewer's token.
 */
class Shape {
  readonly members = new Set<RoomMember>();
  /** Recent frames, oldest first (shared shapes): resumes from a recent cursor are answered from here. */
  private readonly recent: Frame[] = [];
  private chain: Promise<void> = Promise.resolve();
  private inflight = 0;
  private linger: NodeJS.Timeout | null = null;
  ended = false;

  constructor(
    private readonly room: Room,
    readonly key: string,
    private readonly executor: SubscriptionExecutor,
    private readonly plan: PlannedSubscription,
    private readonly variables: Record<string, unknown> | undefined,
    private readonly ctx: SubscriptionRequestContext,
    readonly shared: boolean,
  ) {}

  add(member: RoomMember): void {
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
    this.members.add(member);
  }

  remove(member: RoomMember): void {
    if (!this.members.delete(member) || this.members.size > 0) return;
    if (!this.shared) return this.room.dropShape(this);
    // Kept a little: a viewer reconnecting right away resumes from `recent`.
    this.linger = setTimeout(() => this.members.size === 0 && this.room.dropShape(this), this.room.lingerMs);
    this.linger.unref();
  }

  /** Frames after `cursor`, when this shape has seen it; null when it cannot answer exactly. */
  since(cursor: string): Frame[] | null {
    for (let i = this.recent.length - 1; i >= 0; i--) if (this.recent[i].cursor === cursor) return this.recent.slice(i + 1);
    return null;
  }

  onEvent(root: unknown, errors: ExecutionResult["errors"], cursor: string | null, host: RoomHost): void {
    if (this.ended) return;
    if (++this.inflight > host.hardCap) {
      // The gateway cannot execute this room's events as fast as they come: end its members with their own cursors.
      this.end((m) => slowConsumer(`the gateway fell more than ${host.hardCap} events behind this room`, m.lastCursor));
      return;
    }
    host.stats.roomExecutions++;
    const seed: ExecutionResult = { data: { [this.room.shape.responseKey]: root } as ExecutionResult["data"], ...(errors?.length ? { errors } : {}) };
    // Start now (entity fetches of consecutive events overlap); the chain keeps delivery in event order.
    const executing = this.executor.execute(this.plan, seed, this.variables, this.ctx);
    this.chain = this.chain.then(async () => {
      let result = await executing;
      this.inflight--;
      if (this.ended) return;
      // A subgraph down can null the whole event: still tell the client where in the stream it is.
      if (cursor && !resultHasCursor(result)) result = { ...result, extensions: { ...(result.extensions ?? {}), cursor } };
      const frame: Frame = { payload: JSON.stringify(result), cursor };
      if (this.shared) {
        this.recent.push(frame);
        if (this.recent.length > this.room.replayEvents) this.recent.shift();
      }
      for (const m of [...this.members]) m.offer(frame);
    });
  }

  end(error: GraphQLError | null | ((m: RoomMember) => GraphQLError)): void {
    if (this.ended) return;
    this.ended = true;
    if (this.linger) clearTimeout(this.linger);
    for (const m of [...this.members]) {
      if (error === null) m.complete();
      else m.fail(typeof error === "function" ? error(m) : error);
    }
    this.members.clear();
    this.room.dropShape(this);
  }
}

function resultHasCursor(result: ExecutionResult): boolean {
  const data = result.data as Record<string, unknown> | null | undefined;
  if (!data) return false;
  return Object.values(data).some((v) => !!v && typeof v === "object" && typeof (v as { cursor?: unknown }).cursor === "string");
}

/** One public stream (root field + arguments + selection) with ONE upstream subscription for all its viewers. */
class Room {
  readonly shapes = new Map<string, Shape>();
  private unsubscribe: (() => void) | null = null;
  private lastCursor: string | null = null;
  private resubscribes = 0;
  private members = 0;
  private linger: NodeJS.Timeout | null = null;
  closed = false;

  constructor(
    private readonly rooms: Rooms,
    readonly shape: RoomShape,
    private readonly host: RoomHost,
  ) {}

  get lingerMs(): number {
    return this.host.config.roomLingerMs;
  }

  get replayEvents(): number {
    return this.host.config.roomReplayEvents;
  }

  start(after: string | null): void {
    this.host.stats.upstreamSubscriptions++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.host.stats.upstreamSubscriptions--;
    };
    const dispose = this.rooms.upstreams.client(this.shape.service).subscribe<Record<string, unknown>>(
      { query: this.shape.upstreamQuery, variables: { ...this.shape.upstreamVariables, [this.shape.upstreamAfterVariable]: after } },
      {
        next: (event) => this.onEvent(event as ExecutionResult<Record<string, unknown>>),
        error: (err) => {
          release();
          this.onError(err);
        },
        complete: () => {
          release();
          this.close(null);
        },
      },
    );
    this.unsubscribe = () => {
      release();
      dispose();
    };
  }

  private onEvent(event: ExecutionResult<Record<string, unknown>>): void {
    if (this.closed) return;
    this.resubscribes = 0;
    const root = event.data?.[this.shape.fieldName] as Record<string, unknown> | null | undefined;
    const cursor = root && typeof root[CURSOR_ALIAS] === "string" ? (root[CURSOR_ALIAS] as string) : null;
    if (cursor) this.lastCursor = cursor;
    for (const s of [...this.shapes.values()]) s.onEvent(root ?? null, event.errors as ExecutionResult["errors"], cursor, this.host);
  }

  private onError(err: unknown): void {
    if (this.closed) return;
    const e = upstreamError(err);
    const code = e.extensions?.code;
    const closeCode = e.extensions?.upstreamCloseCode as number | undefined;
    // Earnings cut the room off as slow, our credential expired, or the socket dropped (a missed
    // keep-alive under load, a restart): pick up exactly where the room was, unseen by its viewers.
    // A refusal (4400, 4403, ...) or three tries in a row without an event end the room instead.
    const resumable = code === StreamErrorCode.SlowConsumer || (closeCode !== undefined && !REFUSALS.has(closeCode));
    // Without a cursor (no event yet) a resubscription could not say where the room was: end it.
    if (resumable && this.lastCursor && this.resubscribes < MAX_RESUBSCRIBES) {
      const attempt = this.resubscribes++;
      this.host.stats.roomResubscribes++;
      logger.warn({ room: this.shape.fieldName, code: code ?? closeCode, attempt }, "room upstream resubscribing from its last cursor");
      const retry = setTimeout(() => {
        if (!this.closed) this.start(this.lastCursor);
      }, 100 * 2 ** attempt);
      retry.unref();
      this.unsubscribe = () => clearTimeout(retry);
      return;
    }
    this.close(e);
  }

  shapeFor(key: string, make: () => Shape): Shape {
    let s = this.shapes.get(key);
    if (!s || s.ended) this.shapes.set(key, (s = make()));
    return s;
  }

  dropShape(s: Shape): void {
    if (this.shapes.get(s.key) === s) this.shapes.delete(s.key);
  }

  memberJoined(): void {
    this.members++;
    if (this.linger) clearTimeout(this.linger);
    this.linger = null;
  }

  memberLeft(): void {
    if (--this.members > 0 || this.closed) return;
    // Released shortly after the last viewer leaves: a reconnect storm keeps the room (and its recent events).
    this.linger = setTimeout(() => this.members === 0 && this.close(null), this.lingerMs);
    this.linger.unref();
  }

  /** Ends the room: its upstream, and every member (with `error`, or completed). */
  close(error: GraphQLError | null): void {
    if (this.closed) return;
    this.closed = true;
    if (this.linger) clearTimeout(this.linger);
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const s of [...this.shapes.values()]) s.end(error);
    this.shapes.clear();
    this.rooms.forget(this);
  }
}

/**
 * The shared path of gateway subscriptions (docs/streaming.md "Rooms"): downstream subscriptions
 * to the same public stream share one upstream subscription; each event is executed and
 * serialized once per shape and the same frame written to every member's socket.
 */
export class Rooms {
  private readonly rooms = new Map<string, Room>();
  readonly upstreams: RoomUpstreams;
  private sequence = 0;

  /** The room path's upstream sockets (gateway → subgraphs). */
  get upstreamSockets(): ReadonlySet<WebSocket> {
    return this.upstreams.sockets;
  }

  constructor(
    private readonly host: RoomHost,
    urls: Record<string, string>,
  ) {
    this.upstreams = new RoomUpstreams(urls, host.stats, (service) => host.roomConnectionParams(service));
  }

  /**
   * Adds one downstream subscription to its room (opening the room's upstream when it is the
   * first). With `after`, what the viewer missed comes first: from the room's recent frames when
   * they reach back to `after`, else from the viewer's own upstream replay until the seam.
   */
  join(executor: SubscriptionExecutor, plan: PlannedSubscription, variables: Record<string, unknown> | undefined, ctx: MemberContext, shape: RoomShape): RoomMember {
    let room = this.rooms.get(shape.roomKey);
    if (!room || room.closed) {
      room = new Room(this, shape, this.host);
      this.rooms.set(shape.roomKey, room);
      this.host.stats.rooms++;
      room.start(null);
    }
    const after = shape.afterVariable ? ((variables?.[shape.afterVariable] as string | null | undefined) ?? null) : null;
    const live = shape.afterVariable ? { ...variables, [shape.afterVariable]: null } : variables;
    const key = shape.sharedExecution ? `public\n${plan.operationName ?? ""}\n${plan.query}\n${stableJson(live)}` : `viewer:${++this.sequence}`;
    const roomCtx: SubscriptionRequestContext = shape.sharedExecution ? { authorization: undefined, requestId: `room-${this.sequence}` } : ctx;
    const r = room;
    const s = room.shapeFor(key, () => new Shape(r, key, executor, plan, live, roomCtx, shape.sharedExecution));
    const member = new RoomMember(ctx.extra.socket, ctx.id, this.host);
    s.add(member);
    room.memberJoined();
    this.host.stats.roomMembers++;
    member.onEnd = () => {
      this.host.stats.roomMembers--;
      s.remove(member);
      r.memberLeft();
    };
    if (after !== null) this.resume(member, s, after, executor, plan, variables, ctx);
    return member;
  }

  private resume(member: RoomMember, s: Shape, after: string, _executor: SubscriptionExecutor, plan: PlannedSubscription, variables: Record<string, unknown> | undefined, ctx: MemberContext): void {
    const frames = s.shared ? s.since(after) : null;
    if (frames) {
      this.host.stats.roomReplays++;
      member.lastCursor = after;
      for (const f of frames) if (!member.write(f)) return;
      return;
    }
    this.host.stats.roomCatchUps++;
    const stream = this.host.openPrivate(plan, variables, ctx, withCursorAlias(plan));
    const catchUp = new CatchUp(member, stream, this.host.config.roomReplayEvents, this.host.config.maxBufferedBytes);
    member.catchUp = catchUp;
    member.lastCursor = after;
    void catchUp.run();
  }

  forget(room: Room): void {
    if (this.rooms.get(room.shape.roomKey) === room) this.rooms.delete(room.shape.roomKey);
    this.host.stats.rooms--;
  }

  /** Ends every room (schema reload, shutdown): members get `error` and resubscribe with their cursor. */
  endAll(error: GraphQLError): void {
    for (const room of [...this.rooms.values()]) room.close(error);
  }

  async stop(error: GraphQLError): Promise<void> {
    this.endAll(error);
    await this.upstreams.dispose().catch((err: unknown) => logger.debug({ err: String(err) }, "room upstream dispose"));
  }
}

const cursorAliased = new WeakMap<PlannedSubscription, string>();

/** The per-client path's upstream operation for a catch-up: the client's primary fetch plus the cursor under our alias. */
function withCursorAlias(plan: PlannedSubscription): string {
  let text = cursorAliased.get(plan);
  if (text) return text;
  const doc = parse(plan.primary.operation);
  const edited = visit(doc, {
    OperationDefinition(op) {
      const [root, ...rest] = op.selectionSet.selections;
      if (root?.kind !== Kind.FIELD || !root.selectionSet) return undefined;
      const cursor: FieldNode = { kind: Kind.FIELD, alias: { kind: Kind.NAME, value: CURSOR_ALIAS }, name: { kind: Kind.NAME, value: "cursor" } };
      const field: FieldNode = { ...root, selectionSet: { ...root.selectionSet, selections: [...root.selectionSet.selections, cursor] } };
      return { ...op, selectionSet: { ...op.selectionSet, selections: [field, ...rest] } };
    },
  });
  text = print(edited);
  cursorAliased.set(plan, text);
  return text;
}

function stableJson(v: Record<string, unknown> | undefined): string {
  if (!v) return "{}";
  return JSON.stringify(Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
}
