import type { RoomFeedEvent } from "../../../../platform/feed.js";
import type { FeedRow } from "../../domain/feed.js";
import { RoomGiftEvent } from "../../schema/room-feed.js";

/**
 * A feed row as the room's public feed shows it (platform/feed.ts RoomFeedEvent): the same values
 * `liveGiftFeed { ROOM_EVENT_SELECTION }` answers, from the same RoomGiftEvent (anonymous sender
 * hidden, no diamonds), so gateways fed over NATS deliver what the earnings stream delivers. The
 * FeedBus contract test compares the two for every kind of row.
 */
export function roomEventOf(row: FeedRow): RoomFeedEvent {
  const e = RoomGiftEvent.fromRoom(row);
  const up = e.engagement?.levelUp;
  return {
    __typename: "RoomGiftEvent",
    id: e.id,
    sender: e.sender ? { __typename: "User", id: e.sender.id } : null,
    senderName: e.senderName,
    gift: e.gift ? { __typename: "Gift", id: e.gift.id } : null,
    quantity: e.quantity,
    unitCost: e.unitCost,
    coins: e.coins,
    comboId: e.comboId,
    sentAt: e.sentAt.toISOString(),
    cursor: e.cursor!,
    comboCount: e.comboCount,
    comboEnded: e.comboEnded,
    isTest: e.isTest,
    message: e.message,
    anonymous: e.anonymous,
    videoId: e.videoId,
    goalProgress: (e.engagement?.goals ?? []).map((g) => ({ __typename: "LiveGoalProgress", goalId: g.goalId, title: g.title, progressCoins: g.progress, targetCoins: g.target, reached: g.reached })),
    senderLevel: e.senderHidden ? null : (e.engagement?.senderLevel ?? null),
    senderLevelUp: e.senderHidden || !up ? null : { __typename: "GifterLevelUp", from: up.from, to: up.to },
  };
}
