import { Directive, FieldResolver, Int, Resolver, Root } from "type-graphql";
import { GifterLevelUp } from "./engagement.js";
import { LiveGoalProgress } from "./goals.js";
import { RoomGiftEvent } from "./room-feed.js";

/**
 * The room feed carries the same goal progress and (unless the sender is anonymous) the same
 * sender level as the host's stream: the fields are the same for every viewer of the room.
 */
@Resolver(() => RoomGiftEvent)
export class RoomGiftEventEngagementResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => [LiveGoalProgress], { description: "The goals this gift advanced, with their progress right after it (empty when none). A goal bar updates from these." })
  goalProgress(@Root() event: RoomGiftEvent): LiveGoalProgress[] {
    return (event.engagement?.goals ?? []).map(LiveGoalProgress.from);
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Int, { nullable: true, description: "The sender's gifter level right after this gift; null when the sender is hidden (anonymous) or on events from before levels existed." })
  senderLevel(@Root() event: RoomGiftEvent): number | null {
    return event.senderHidden ? null : (event.engagement?.senderLevel ?? null);
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => GifterLevelUp, { nullable: true, description: "Set on exactly one event per crossing: the gift that moved its sender to a new level. Null otherwise and when the sender is hidden." })
  senderLevelUp(@Root() event: RoomGiftEvent): GifterLevelUp | null {
    const up = event.engagement?.levelUp;
    return event.senderHidden || !up ? null : Object.assign(new GifterLevelUp(), up);
  }
}
