import { Arg, Ctx, Directive, ID, Resolver, Root, Subscription, type SubscribeResolverData } from "type-graphql";
import { forbidden, requireSelfOrAdmin, requireUser } from "../../../platform/auth.js";
import { badInput } from "../../../platform/errors.js";
import type { FeedRow } from "../domain/feed.js";
import { decodeCursor } from "../transport/stream/cursor.js";
import type { FeedFilter } from "../transport/stream/hub.js";
import type { EarningsContext } from "./context.js";
import { GiftEvent, type EventScope } from "./gift-event.js";
import { RoomGiftEvent } from "./room-feed.js";

type StreamPayload = FeedRow & { scope: EventScope };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function checkId(value: string, field: string): string {
  if (value.length === 0 || value.length > 128) throw badInput(`${field} is not a valid id`, [field]);
  return value;
}

/**
 * Wraps a hub stream so each row carries the scope the GiftEvent fields check. graphql-ws builds
 * one context per subscription: its DataLoaders are cleared per event so a host profile or a
 * session's status is never served stale for the life of the stream.
 */
async function* scoped(rows: AsyncIterableIterator<FeedRow>, scope: EventScope, ctx: EarningsContext): AsyncGenerator<StreamPayload> {
  for await (const row of rows) {
    for (const loader of Object.values(ctx.loaders ?? {})) (loader as { clearAll?: () => void }).clearAll?.();
    yield { ...row, scope };
  }
}

/** Like `scoped`, but return() reaches the hub at once (an async generator would wait for the next event). */
function withScope(rows: AsyncIterableIterator<FeedRow>, scope: EventScope, ctx: EarningsContext): AsyncIterableIterator<StreamPayload> {
  const gen = scoped(rows, scope, ctx);
  return {
    next: () => gen.next(),
    return: async () => {
      await rows.return?.();
      return { value: undefined, done: true };
    },
    throw: async (e) => {
      await rows.return?.();
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

async function sessionHost(ctx: EarningsContext, liveSessionId: string): Promise<string> {
  const row = UUID.test(liveSessionId) ? await ctx.loaders.liveSession.load(liveSessionId) : null;
  if (!row) throw badInput("no such live session", ["liveSessionId"]);
  return row.hostId;
}

async function openHostStream({ args, context }: SubscribeResolverData<unknown, Record<string, any>, EarningsContext>): Promise<AsyncIterable<StreamPayload>> {
  // An overlay token reads its own host's stream and nothing else; everyone else needs a user.
  const user = context.overlay ? null : requireUser(context.user);
  // An overlay names no host: its token says whose stream it is.
  const hostId = args.hostId == null ? (context.overlay && args.liveSessionId == null ? context.overlay.hostId : null) : checkId(args.hostId, "hostId");
  const liveSessionId = args.liveSessionId == null ? null : checkId(args.liveSessionId, "liveSessionId");
  if (!hostId && !liveSessionId) throw badInput("give hostId or liveSessionId", ["hostId"]);
  const after = args.after == null ? null : decodeCursor(args.after);
  let owner = hostId;
  if (liveSessionId) {
    const sessionOwner = await sessionHost(context, liveSessionId);
    if (hostId && sessionOwner !== hostId) throw badInput("that live session belongs to another host", ["liveSessionId"]);
    owner = sessionOwner;
  }
  if (context.overlay) {
    if (owner !== context.overlay.hostId) throw forbidden("this overlay token can only follow its own host's gifts");
  } else requireSelfOrAdmin(user, owner!);
  const filter: FeedFilter = liveSessionId ? { hostId: owner!, liveSessionId } : { hostId: owner! };
  return withScope(context.services.stream.subscribe(filter, after), "host", context);
}

async function openRoomFeed({ args, context }: SubscribeResolverData<unknown, Record<string, any>, EarningsContext>): Promise<AsyncIterable<StreamPayload>> {
  // Public rooms are open to anonymous viewers (per-address limits guard the sockets); overlay tokens read only giftReceived.
  if (context.overlay) throw forbidden("an overlay token can only follow its host's giftReceived stream");
  const liveSessionId = checkId(args.liveSessionId, "liveSessionId");
  const after = args.after == null ? null : decodeCursor(args.after);
  await sessionHost(context, liveSessionId);
  return withScope(context.services.stream.subscribe({ liveSessionId }, after), "public", context);
}

@Resolver()
export class GiftStreamResolver {
  @Subscription(() => GiftEvent, {
    subscribe: openHostStream,
    description:
      "A host's private gift stream, diamonds included: every gift credited to the host (or to one of their live sessions), in order. " +
      "With `after`, first replays what came after that cursor, then continues live, with no gap and no duplicate. Only the host and admins may subscribe.",
  })
  giftReceived(
    @Root() event: StreamPayload,
    @Arg("hostId", () => ID, { nullable: true, description: "The host whose gifts to stream (give this or liveSessionId; an overlay token's connection may omit both: its host)." }) _hostId?: string,
    @Arg("liveSessionId", () => ID, { nullable: true, description: "Only gifts sent during this live session." }) _liveSessionId?: string,
    @Arg("after", () => String, { nullable: true, description: "Resume after this cursor (GiftEvent.cursor)." }) _after?: string,
    @Ctx() ctx?: EarningsContext,
  ): GiftEvent {
    return GiftEvent.from(event, event.scope, ctx?.user);
  }

  @Directive('@tag(name: "partner")')
  @Subscription(() => RoomGiftEvent, {
    subscribe: openRoomFeed,
    description:
      "A live session's public gift feed for the viewers in the room: every gift sent during the session, in order, without the host's earnings " +
      "(a RoomGiftEvent has no diamonds; the host's own stream is giftReceived). Open to anyone, signed in or not. With `after`, replays what came after that cursor first.",
  })
  liveGiftFeed(
    @Root() event: StreamPayload,
    @Arg("liveSessionId", () => ID, { description: "The live session (room) to follow." }) _liveSessionId: string,
    @Arg("after", () => String, { nullable: true, description: "Resume after this cursor (GiftEvent.cursor)." }) _after?: string,
  ): RoomGiftEvent {
    return RoomGiftEvent.fromRoom(event);
  }
}
