/**
 * The room feed's contract between earnings (which owns `earnings.gift_feed` and publishes it) and
 * the gateways (which fan it out to viewers): the cursor format, the NATS subjects, and the public
 * room event as every viewer of a room sees it. docs/scaling.md "Room feed".
 *
 * A room event is the `liveGiftFeed` event's row fields, shaped as earnings' GraphQL answers them
 * for ROOM_EVENT_SELECTION (with `__typename` at every level). Earnings publishes exactly that
 * object to `feed.room.<liveSessionId>` (subgraphs/earnings/transport/stream/room-event.ts), and the gateway's
 * PostgreSQL feed bus reads the same object from earnings' `liveGiftFeed`: the FeedBus contract test
 * asserts both are identical, so the two cannot drift apart.
 */

/** Stream cursors are opaque to clients: base64url("gf1:<seq>") with seq = earnings.gift_feed.seq. */
const CURSOR_PREFIX = "gf1:";

export function encodeFeedCursor(seq: number): string {
  return Buffer.from(`${CURSOR_PREFIX}${seq}`, "utf8").toString("base64url");
}

/** The feed seq a cursor stands for; null for anything that is not one of our cursors. */
export function feedCursorSeq(cursor: string): number | null {
  if (cursor.length > 64) return null;
  const m = /^gf1:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  return m ? Number(m[1]) : null;
}

const SAFE = /^[A-Za-z0-9_-]{1,128}$/;

/** One subject token for an id: as it is when NATS-safe, otherwise `~` + base64url (ids may hold dots or spaces). */
export function subjectToken(id: string): string {
  return SAFE.test(id) ? id : `~${Buffer.from(id, "utf8").toString("base64url")}`;
}

export const DEFAULT_FEED_SUBJECT_PREFIX = "feed";

/** `<prefix>.host.<hostId>` (every row of a host) and `<prefix>.room.<liveSessionId>` (every row of a live session). */
export function feedSubjects(prefix = DEFAULT_FEED_SUBJECT_PREFIX) {
  return {
    all: `${prefix}.>`,
    host: (hostId: string) => `${prefix}.host.${subjectToken(hostId)}`,
    room: (liveSessionId: string) => `${prefix}.room.${subjectToken(liveSessionId)}`,
  };
}

/** A reference to an entity another part of the graph resolves (the gateway's plan fetches the rest). */
interface Ref<T extends string> {
  __typename: T;
  id: string;
}

/** One event of a room's public feed: what `liveGiftFeed { ROOM_EVENT_SELECTION }` answers for one feed row. */
export interface RoomFeedEvent {
  __typename: "RoomGiftEvent";
  id: string;
  /** Null when the sender is anonymous (hidden from everyone on the room feed). */
  sender: Ref<"User"> | null;
  senderName: string;
  gift: Ref<"Gift"> | null;
  quantity: number;
  unitCost: number;
  coins: number;
  comboId: string | null;
  /** ISO-8601 (the DateTimeISO scalar). */
  sentAt: string;
  cursor: string;
  comboCount: number | null;
  comboEnded: boolean | null;
  isTest: boolean;
  message: string | null;
  anonymous: boolean;
  videoId: string | null;
  goalProgress: { __typename: "LiveGoalProgress"; goalId: string; title: string; progressCoins: number; targetCoins: number; reached: boolean }[];
  senderLevel: number | null;
  senderLevelUp: { __typename: "GifterLevelUp"; from: number; to: number } | null;
}

/**
 * The body of a message on `feed.room.<liveSessionId>`: the room event, its feed seq, and `prev`,
 * the seq of the room's previous row (0 when none). A subscriber that has delivered up to seq L and
 * receives `prev > L` knows it missed rows (a NATS reconnect, a relay fail-over) and replays them from
 * the durable log; `seq <= L` is a copy and is dropped.
 */
export interface RoomFeedMessage {
  seq: number;
  prev: number;
  event: RoomFeedEvent;
}

/**
 * The fields of a room event that come from the feed row alone, per type: a room whose selection
 * asks only these can be fed from the bus (NATS or the PostgreSQL-backed stream) without earnings
 * resolving anything per event. A subset of shareable.ts's PUBLIC_EVENT_FIELDS. Not `host` or
 * `liveSession`, not even their ids: earnings resolves those per event from its database (a
 * selection with them keeps a room subscription of its own to earnings).
 */
export const FEED_ROW_FIELDS: Record<string, readonly string[]> = {
  RoomGiftEvent: [
    "id", "sender", "senderName", "gift", "quantity", "unitCost", "coins", "comboId", "sentAt", "cursor",
    "comboCount", "comboEnded", "isTest", "message", "anonymous", "videoId", "goalProgress", "senderLevel", "senderLevelUp",
  ],
  User: ["id"],
  Gift: ["id"],
  LiveGoalProgress: ["goalId", "title", "progressCoins", "targetCoins", "reached"],
  GifterLevelUp: ["from", "to"],
};

/** The selection of `liveGiftFeed` that answers a RoomFeedEvent (every FEED_ROW_FIELDS field, `__typename` everywhere). */
export const ROOM_EVENT_SELECTION = `{ __typename id sender { __typename id } senderName gift { __typename id }
  quantity unitCost coins comboId sentAt cursor comboCount comboEnded isTest message anonymous videoId
  goalProgress { __typename goalId title progressCoins targetCoins reached } senderLevel senderLevelUp { __typename from to } }`;
