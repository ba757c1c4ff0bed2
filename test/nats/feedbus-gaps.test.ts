import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { emptyFeedBusStats, type FeedBus, type FeedEvent, type FeedSink } from "../../gateway/subscriptions/feed-bus.js";
import { NatsFeedBus } from "../../gateway/subscriptions/feed-bus-nats.js";
import { encodeFeedCursor, feedSubjects, type RoomFeedEvent, type RoomFeedMessage } from "../../platform/feed.js";
import { eventually } from "../support/eventually.js";
import { isolated } from "./support.js";

/**
 * The NATS bus's own rules, with the room's subject written by hand (no relay) and the durable log
 * played by a recording stand-in: a message whose `prev` was not delivered is a gap, filled from
 * the durable log up to the seam; a copy is dropped; the replay ends once the tail continues it.
 */
const opts = isolated("feedgaps");
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: opts.url });
});
afterAll(async () => {
  await nc?.close();
});

const event = (seq: number): RoomFeedEvent => ({
  __typename: "RoomGiftEvent", id: `row-${seq}`, sender: { __typename: "User", id: "v" }, senderName: "V", gift: { __typename: "Gift", id: "g" },
  quantity: 1, unitCost: 1, coins: 1, comboId: null, sentAt: new Date(0).toISOString(), cursor: encodeFeedCursor(seq), comboCount: null, comboEnded: null,
  isTest: false, message: null, anonymous: false, videoId: null, goalProgress: [], senderLevel: null, senderLevelUp: null,
});

/** The durable log of a room whose rows are `seqs`: replays what comes after `after`, records every replay asked of it. */
function durableLog(seqs: number[]) {
  const replays: { after: number | null; open: boolean }[] = [];
  const bus: FeedBus = {
    transport: "postgres",
    subscribe(_room: string, after: number | null, sink: FeedSink) {
      const r = { after, open: true };
      replays.push(r);
      queueMicrotask(() => {
        for (const seq of seqs) if (r.open && (after === null || seq > after)) sink.next({ seq, event: event(seq) });
      });
      return { unsubscribe: () => void (r.open = false) };
    },
    close: async () => undefined,
  };
  return { bus, replays };
}

function publish(room: string, m: Omit<RoomFeedMessage, "event">): void {
  nc.publish(feedSubjects(opts.feedSubjectPrefix).room(room), JSON.stringify({ ...m, event: event(m.seq) }));
}

describe("the NATS feed bus's gaps and copies", () => {
  it("fills a gap in the room's subject from the durable log, drops copies, and lets the replay go at the seam", async () => {
    const room = `gap-${Math.random().toString(36).slice(2, 8)}`;
    const log = durableLog([5, 7, 9, 12]);
    const stats = emptyFeedBusStats();
    const bus = new NatsFeedBus({ url: opts.url, feedSubjectPrefix: opts.feedSubjectPrefix }, log.bus, stats);
    const got: FeedEvent[] = [];
    const sub = bus.subscribe(room, null, { next: (e) => got.push(e), error: (e) => got.push(e as never), complete: () => undefined });
    await bus.flushed();
    publish(room, { seq: 5, prev: 0 });
    publish(room, { seq: 9, prev: 7 }); // 7 never reached us
    publish(room, { seq: 9, prev: 7 }); // a copy (a relay re-publish)
    await eventually(async () => expect(got.map((e) => e.seq)).toEqual([5, 7, 9]));
    expect(log.replays).toEqual([{ after: 5, open: false }]);
    publish(room, { seq: 12, prev: 9 });
    await eventually(async () => expect(got.map((e) => e.seq)).toEqual([5, 7, 9, 12]));
    expect(stats).toMatchObject({ busGaps: 1, busReplays: 1, busSubscriptions: 1 });
    expect(stats.busDuplicates).toBeGreaterThanOrEqual(1);
    sub.unsubscribe();
    expect(bus.openSubscriptions()).toBe(0);
    await bus.close();
  });

  it("a resume from a cursor replays from it and hands over to the tail without a duplicate", async () => {
    const room = `resume-${Math.random().toString(36).slice(2, 8)}`;
    const log = durableLog([3, 4, 6]);
    const stats = emptyFeedBusStats();
    const bus = new NatsFeedBus({ url: opts.url, feedSubjectPrefix: opts.feedSubjectPrefix }, log.bus, stats);
    const got: number[] = [];
    const sub = bus.subscribe(room, 3, { next: (e) => got.push(e.seq), error: () => undefined, complete: () => undefined });
    await bus.flushed();
    await eventually(async () => expect(got).toEqual([4, 6]));
    expect(log.replays[0].open).toBe(true); // no tail message yet: the replay carries the room
    publish(room, { seq: 6, prev: 4 }); // the tail catches up with what the replay gave
    publish(room, { seq: 8, prev: 6 });
    await eventually(async () => expect(got).toEqual([4, 6, 8]));
    expect(log.replays).toEqual([{ after: 3, open: false }]);
    sub.unsubscribe();
    await bus.close();
  });
});
