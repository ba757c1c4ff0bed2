import { Kind, parse, print, visit, type ExecutionResult, type FieldNode, type GraphQLError } from "graphql";
import type { Client } from "graphql-ws";
import type WebSocket from "ws";
import { logger } from "../../platform/logger.js";
import type { RoomStreamConfig } from "../config.js";
import type { PlannedSubscription, SubscriptionExecutor, SubscriptionRequestContext } from "./executor.js";
import type { FeedBus, FeedBusStats, FeedEvent } from "./feed-bus.js";
import { feedProjection, type FeedProjection } from "./feed-project.js";
import { CatchUp, RoomMember, type Frame, type PrivateStream } from "./room-member.js";
import { RoomUpstreams } from "./room-upstreams.js";
import { CURSOR_ALIAS, type RoomShape } from "./shareable.js";
import { REFUSING_CLOSE_CODES, StreamErrorCode } from "../../platform/codes.js";
import { slowConsumer, upstreamError } from "./stream-errors.js";

export { STREAM_CURSOR, type CursoredResult, type PrivateStream } from "./room-member.js";

/** What the room machinery needs from its SubscriptionGateway. */
export interface RoomHost {
  readonly config: RoomStreamConfig;
  /** Events a shape may have in execution before its members are ended as too slow (the gateway fell behind). */
  readonly hardCap: number;
  readonly stats: RoomStats & FeedBusStats & { subscriptions: number; opened: number; upstreamSockets: number; slowClosed: number };
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
}

export const emptyRoomStats = (): RoomStats => ({ rooms: 0, roomMembers: 0, roomExecutions: 0, roomReplays: 0, roomCatchUps: 0 });

/** Only this viewer's ws socket and graphql-ws subscription id: what a member writes frames with. */
export interface MemberContext extends SubscriptionRequestContext {
  id: string;
  extra: { socket: WebSocket };
}

/** Upstream resubscriptions from the last cursor allowed in a row without an event in between. */
const MAX_RESUBSCRIBES = 3;

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
    /** This document's response key for the root field (an alias, maybe: documents of one room may differ). */
    private readonly responseKey: string,
    /** Feed-fed rooms: the plan's primary fetch answered from the room event. */
    readonly project: FeedProjection | null,
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
    const seed: ExecutionResult = { data: { [this.responseKey]: root } as ExecutionResult["data"], ...(errors?.length ? { errors } : {}) };
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

/**
 * One public stream with ONE upstream for all its viewers: the feed bus's subscription of the room
 * (a feed-fed selection: every document of the room shares it), or an upstream subscription to the
 * owning subgraph per root field, arguments and selection.
 */
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
    if (this.shape.feed) return this.startFeed(this.shape.feed.liveSessionId);
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

  /** Fed by the bus (NATS or earnings' stream): it resumes and dedupes itself; its end is the room's end. */
  private startFeed(liveSessionId: string): void {
    const sub = this.rooms.bus.subscribe(liveSessionId, null, {
      next: (e) => this.onFeed(e),
      error: (err) => this.close(err),
      complete: () => this.close(null),
    });
    if (this.closed) sub.unsubscribe();
    else this.unsubscribe = () => sub.unsubscribe();
  }

  private onFeed(e: FeedEvent): void {
    if (this.closed) return;
    for (const s of [...this.shapes.values()]) s.onEvent(s.project ? s.project(e.event) : null, undefined, e.event.cursor, this.host);
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
    const resumable = code === StreamErrorCode.SlowConsumer || (closeCode !== undefined && !REFUSING_CLOSE_CODES.has(closeCode));
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
  /** Where feed-fed rooms get their events (feed-bus.ts): NATS with NATS_URL, earnings' stream otherwise. */
  readonly bus: FeedBus;
  private sequence = 0;

  /** The room path's upstream sockets (gateway → subgraphs). */
  get upstreamSockets(): ReadonlySet<WebSocket> {
    return this.upstreams.sockets;
  }

  constructor(
    private readonly host: RoomHost,
    urls: Record<string, string>,
    /** Builds the feed bus over the rooms' upstream clients (one socket per subgraph, shared with the socket-fed rooms). */
    bus: (upstream: (service: string) => Client) => FeedBus,
  ) {
    this.upstreams = new RoomUpstreams(urls, host.stats, (service) => host.roomConnectionParams(service));
    this.bus = bus((service) => this.upstreams.client(service));
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
    const project = shape.feed ? feedProjection(plan.primary) : null;
    const s = room.shapeFor(key, () => new Shape(r, key, executor, plan, live, roomCtx, shape.sharedExecution, shape.responseKey, project));
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
    await this.bus.close().catch((err: unknown) => logger.debug({ err: String(err) }, "feed bus close"));
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
