import type { FetchNode } from "@apollo/query-planner";
import { Kind, parse, type OperationDefinitionNode, type SelectionSetNode } from "graphql";
import { describe, expect, it } from "vitest";
import { feedBusConfigFromEnv } from "../../gateway/config.js";
import { feedProjection } from "../../gateway/subscriptions/feed-project.js";
import { PUBLIC_EVENT_FIELDS } from "../../gateway/subscriptions/shareable.js";
import { encodeFeedCursor, FEED_ROW_FIELDS, feedCursorSeq, feedSubjects, ROOM_EVENT_SELECTION, type RoomFeedEvent } from "../../platform/feed.js";

const event: RoomFeedEvent = {
  __typename: "RoomGiftEvent", id: "e1", sender: null, senderName: "Anonymous", gift: { __typename: "Gift", id: "g1" },
  quantity: 2, unitCost: 5, coins: 10, comboId: "c1", sentAt: "2026-12-01T10:00:00.000Z", cursor: encodeFeedCursor(42), comboCount: 3, comboEnded: false,
  isTest: false, message: "hi", anonymous: true, videoId: null,
  goalProgress: [{ __typename: "LiveGoalProgress", goalId: "goal", title: "Song", progressCoins: 10, targetCoins: 100, reached: false }],
  senderLevel: null, senderLevelUp: null,
};

const primary = (operation: string) => ({ kind: "Fetch", serviceName: "earnings", operation }) as unknown as FetchNode;

/** Field names per type in a selection of RoomGiftEvent (by the types FEED_ROW_FIELDS names). */
function fieldsOf(set: SelectionSetNode, type: string, out: Record<string, Set<string>>): void {
  const nested: Record<string, string> = { sender: "User", gift: "Gift", goalProgress: "LiveGoalProgress", senderLevelUp: "GifterLevelUp" };
  for (const s of set.selections) {
    if (s.kind !== Kind.FIELD || s.name.value === "__typename") continue;
    (out[type] ??= new Set()).add(s.name.value);
    if (s.selectionSet) fieldsOf(s.selectionSet, nested[s.name.value], out);
  }
}

describe("the feed bus's contract pieces", () => {
  it("ROOM_EVENT_SELECTION asks exactly the row fields, and every row field is a public event field", () => {
    const op = parse(`subscription { liveGiftFeed(liveSessionId: "x") ${ROOM_EVENT_SELECTION} }`).definitions[0] as OperationDefinitionNode;
    const root = op.selectionSet.selections[0];
    if (root.kind !== Kind.FIELD || !root.selectionSet) throw new Error("no selection");
    const asked: Record<string, Set<string>> = {};
    fieldsOf(root.selectionSet, "RoomGiftEvent", asked);
    expect(Object.fromEntries(Object.entries(asked).map(([t, f]) => [t, [...f].sort()]))).toEqual(Object.fromEntries(Object.entries(FEED_ROW_FIELDS).map(([t, f]) => [t, [...f].sort()])));
    for (const [type, fields] of Object.entries(FEED_ROW_FIELDS)) for (const f of fields) expect(PUBLIC_EVENT_FIELDS.earnings[type], `${type}.${f}`).toContain(f);
  });

  it("answers a primary fetch from a room event as GraphQL would: aliases, fragments, __typename, nested lists, nulls", () => {
    const project = feedProjection(primary(`subscription($s: ID!) { liveGiftFeed(liveSessionId: $s) {
      __typename id n: quantity gift { __typename id } sender { id } ...More ... on RoomGiftEvent { cursor } ... on GiftEvent { coins } goalProgress { goalId reached } } }
      fragment More on RoomGiftEvent { message gift { id } senderLevelUp { to } }`));
    expect(project(event)).toEqual({
      __typename: "RoomGiftEvent", id: "e1", n: 2, gift: { __typename: "Gift", id: "g1" }, sender: null, message: "hi", senderLevelUp: null, cursor: event.cursor,
      goalProgress: [{ goalId: "goal", reached: false }],
    });
  });

  it("cursors carry the feed seq; subjects are NATS-safe; NATS_URL selects the NATS bus", () => {
    expect(feedCursorSeq(encodeFeedCursor(123))).toBe(123);
    expect(feedCursorSeq("bm90LWEtY3Vyc29y")).toBeNull();
    expect(feedSubjects("f").room("a.b c")).toBe(`f.room.~${Buffer.from("a.b c").toString("base64url")}`);
    expect(feedSubjects().room("3fa060ec-97af-46c8-bf5a-380dde284237")).toBe("feed.room.3fa060ec-97af-46c8-bf5a-380dde284237");
    expect(feedBusConfigFromEnv({})).toEqual({ natsUrl: undefined, feedSubjectPrefix: "feed" });
    expect(feedBusConfigFromEnv({ NATS_URL: "nats://nats:4222", NATS_FEED_SUBJECT_PREFIX: "prod.feed" })).toEqual({ natsUrl: "nats://nats:4222", feedSubjectPrefix: "prod.feed" });
  });
});
