import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../platform/config.js";
import { encodeFeedCursor, ROOM_EVENT_SELECTION, type RoomFeedEvent } from "../../platform/feed.js";
import { ServiceSigner } from "../../platform/service-auth.js";
import { emptyFeedBusStats, type FeedBus, type FeedBusStats, type FeedEvent, type FeedSubscription } from "../../gateway/subscriptions/feed-bus.js";
import { appendToFeed, type FeedItem } from "../../subgraphs/earnings/domain/feed.js";
import { startEarnings } from "../../subgraphs/earnings/index.js";
import { createTestDatabase } from "./db.js";
import { eventually } from "./eventually.js";

export type Earnings = Awaited<ReturnType<typeof startEarnings>>;

/**
 * THE feed-bus contract, one body for both implementations (gateway/subscriptions/feed-bus.ts):
 * earnings' stream over PostgreSQL (test/stream/feedbus-contract.test.ts, `npm test`) and NATS
 * (test/nats/feedbus-contract.test.ts, `npm run test:nats`). Each "gateway" is a bus of its own with
 * its own upstream socket to a real earnings server (and its own NATS connection).
 */
export interface FeedBusTransport {
  name: string;
  /**
   * The earnings server's transport settings (its environment while it starts): NATS_URL and the run's
   * own stream and subject prefixes make it run its feed relay; without NATS_URL it runs none.
   */
  earningsEnv: Record<string, string>;
  /** One gateway process's bus, over its own upstream client to earnings. */
  open(earnings: () => Client, stats: FeedBusStats): FeedBus;
  /** Resolves once the live tails of the bus's subscriptions so far are established. */
  live(bus: FeedBus): Promise<void>;
  /** True when a live room is itself a subscription to earnings (PostgreSQL); NATS holds one only while replaying. */
  tailOnEarnings: boolean;
  /** Subscriptions the bus holds on its broker (NATS subscriptions; 0 for PostgreSQL). */
  brokerSubscriptions(bus: FeedBus): number;
  cleanup?(): Promise<void>;
}

interface Collected {
  events: FeedEvent[];
  errors: unknown[];
  sub: FeedSubscription;
  ids(): string[];
}

export function feedBusContract(t: FeedBusTransport): void {
  describe(`the feed bus over ${t.name}`, () => {
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    let earnings: Earnings;
    const signer = new ServiceSigner(loadConfig(), "gateway");
    const opened: { bus: FeedBus; client: Client }[] = [];

    beforeAll(async () => {
      db = await createTestDatabase(`feedbus${t.name}`);
      const saved = Object.fromEntries(Object.keys(t.earningsEnv).map((k) => [k, process.env[k]]));
      Object.assign(process.env, t.earningsEnv);
      try {
        earnings = await startEarnings({ databaseUrl: db.url, port: 0, poolSize: 6 });
      } finally {
        for (const [k, v] of Object.entries(saved)) {
          if (v === undefined) delete process.env[k];
          else process.env[k] = v;
        }
      }
    });
    afterEach(async () => {
      for (const g of opened.splice(0)) {
        await g.bus.close();
        await g.client.dispose();
      }
    });
    afterAll(async () => {
      await earnings?.stop();
      await t.cleanup?.();
      await db?.drop();
    });

    /** The earnings stream as a gateway connects to it: its service credential, no viewer. */
    const upstream = () =>
      createClient({ url: earnings.url.replace(/^http/, "ws"), webSocketImpl: WebSocket, connectionParams: () => signer.connectionParams("earnings", {}), lazy: true, lazyCloseTimeout: 0, retryAttempts: 0 });

    /** One gateway process: a bus and its own upstream socket. */
    function gateway(): { bus: FeedBus; stats: FeedBusStats } {
      const client = upstream();
      const stats = emptyFeedBusStats();
      const bus = t.open(() => client, stats);
      opened.push({ bus, client });
      return { bus, stats };
    }

    function collect(bus: FeedBus, room: string, after: number | null): Collected {
      const events: FeedEvent[] = [];
      const errors: unknown[] = [];
      const sub = bus.subscribe(room, after, { next: (e) => events.push(e), error: (e) => errors.push(e), complete: () => errors.push("completed") });
      return { events, errors, sub, ids: () => events.map((e) => e.event.id) };
    }

    /** Waits until the buses' live tails are established (and, where a tail is an earnings subscription, registered at its hub). */
    async function live(buses: FeedBus[], hubSubscribers: number): Promise<void> {
      for (const b of buses) await t.live(b);
      if (t.tailOnEarnings) await eventually(async () => expect(earnings.services.stream.stats.subscribers).toBeGreaterThanOrEqual(hubSubscribers));
    }

    async function room(hostId: string): Promise<string> {
      const user = { id: hostId, name: hostId.toUpperCase(), roles: ["host" as const], region: "US", adult: true, exp: undefined };
      return (await earnings.services.sessions.start(user, "feed bus contract")).id;
    }

    const item = (over: Partial<FeedItem> & { hostId: string }): FeedItem => ({
      giftEventId: randomUUID(),
      liveSessionId: null,
      senderId: "fb-viewer",
      senderName: "Viewer",
      giftId: "gift-rose",
      quantity: 1,
      unitCost: 10,
      coins: 10,
      diamonds: 5,
      comboId: null,
      sentAt: new Date(),
      ...over,
    });
    const credit = (items: FeedItem[]) => earnings.dataSource.transaction((m) => appendToFeed(m, items));
    const head = async () => Number((await earnings.dataSource.query(`SELECT coalesce(max(seq), 0)::text AS s FROM earnings.gift_feed`))[0].s);
    const roomIds = async (session: string, after: number) =>
      (await earnings.dataSource.query(`SELECT id FROM earnings.gift_feed WHERE live_session_id = $1 AND seq > $2 ORDER BY seq`, [session, after])).map((r: { id: string }) => r.id);

    /** What earnings' own stream answers for the room after `after` (the reference every bus must match). */
    async function reference(session: string, after: number, n: number): Promise<RoomFeedEvent[]> {
      const client = upstream();
      const got: RoomFeedEvent[] = [];
      const stop = client.subscribe<{ liveGiftFeed: RoomFeedEvent }>(
        { query: `subscription($s: ID!, $a: String) { liveGiftFeed(liveSessionId: $s, after: $a) ${ROOM_EVENT_SELECTION} }`, variables: { s: session, a: encodeFeedCursor(after) } },
        { next: (r) => void (r.data && got.push(r.data.liveGiftFeed)), error: () => undefined, complete: () => undefined },
      );
      await eventually(async () => expect(got.length).toBe(n), 20_000);
      stop();
      await client.dispose();
      return got;
    }

    function inOrderOnce(c: Collected): void {
      const seqs = c.events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
      for (const e of c.events) expect(e.event.cursor).toBe(encodeFeedCursor(e.seq));
    }

    it("delivers every row of the room live, in order, once, as exactly the event earnings' liveGiftFeed answers (combos, anonymous senders, engagement)", async () => {
      const session = await room("fb-live");
      const other = await room("fb-live-other");
      const { bus } = gateway();
      const c = collect(bus, session, null);
      await live([bus], 1);
      const start = await head();
      await credit([
        item({ hostId: "fb-live", liveSessionId: session, senderId: "fb-a" }),
        item({ hostId: "fb-live-other", liveSessionId: other }),
        item({ hostId: "fb-live", liveSessionId: null }),
        item({ hostId: "fb-live", liveSessionId: session, senderId: "fb-b", comboId: "combo-1" }),
        item({ hostId: "fb-live", liveSessionId: session, senderId: "fb-b", comboId: "combo-1" }),
      ]);
      await credit([
        // Breaks fb-b's streak: a combo end comes first.
        item({ hostId: "fb-live", liveSessionId: session, senderId: "fb-b", giftId: "gift-heart" }),
        item({
          hostId: "fb-live",
          liveSessionId: session,
          senderId: "fb-c",
          senderName: "Secret",
          engagement: { anonymous: true, message: "hello room", senderLevel: 4, levelUp: { from: 3, to: 4 }, goals: [{ goalId: "g1", title: "Song", progress: 30, target: 100, reached: false }] },
        }),
        item({ hostId: "fb-live", liveSessionId: session, senderId: "fb-d", engagement: { senderLevel: 2, levelUp: { from: 1, to: 2 }, message: "hi" } }),
      ]);
      const expected = await roomIds(session, start);
      expect(expected.length).toBe(7);
      await eventually(async () => expect(c.ids()).toEqual(expected), 20_000);
      inOrderOnce(c);
      expect(c.events.map((e) => e.event)).toEqual(await reference(session, start, expected.length));
      const anon = c.events.find((e) => e.event.message === "hello room")!.event;
      expect(anon).toMatchObject({ anonymous: true, sender: null, senderName: "Anonymous", senderLevel: null, senderLevelUp: null, goalProgress: [{ goalId: "g1", progressCoins: 30, targetCoins: 100 }] });
      expect(c.events.at(-1)!.event).toMatchObject({ sender: { id: "fb-d" }, senderLevel: 2, senderLevelUp: { from: 1, to: 2 } });
      expect(c.events.some((e) => e.event.comboEnded === true)).toBe(true);
      expect(c.errors).toEqual([]);
    });

    it("resumes from a cursor with no gap and no duplicate at the seam: the rows after it from the durable log, then live, while gifts keep coming", async () => {
      const session = await room("fb-resume");
      const start = await head();
      await credit(Array.from({ length: 30 }, () => item({ hostId: "fb-resume", liveSessionId: session })));
      const before = await roomIds(session, start);
      const cursor = Number((await earnings.dataSource.query(`SELECT seq::text AS s FROM earnings.gift_feed WHERE id = $1`, [before[9]]))[0].s);
      const { bus, stats } = gateway();
      let storming = true;
      const storm = (async () => {
        for (let i = 0; i < 40 || storming; i++) {
          await credit([item({ hostId: "fb-resume", liveSessionId: session })]);
          if (i === 5) storming = false;
        }
      })();
      const c = collect(bus, session, cursor);
      await storm;
      const expected = await roomIds(session, cursor);
      expect(expected.length).toBe(20 + 40);
      await eventually(async () => expect(c.ids()).toEqual(expected), 30_000);
      inOrderOnce(c);
      // The live tail takes over at the seam: a bus whose tail is not earnings lets go of the replay.
      if (!t.tailOnEarnings) {
        expect(stats.busReplays).toBeGreaterThan(0);
        await credit([item({ hostId: "fb-resume", liveSessionId: session, giftEventId: "fb-resume-last" })]);
        await eventually(async () => expect(c.ids().at(-1)).toBe("fb-resume-last"), 20_000);
        await eventually(async () => expect(stats.upstreamSubscriptions).toBe(0), 20_000);
      }
      expect(c.errors).toEqual([]);
    });

    it("two gateways each get every event of the room exactly once, in order, over one subscription each", async () => {
      const session = await room("fb-two");
      const [a, b] = [gateway(), gateway()];
      const subs = [collect(a.bus, session, null), collect(b.bus, session, null)];
      await live([a.bus, b.bus], 2);
      const start = await head();
      for (let i = 0; i < 8; i++) await credit(Array.from({ length: 5 }, () => item({ hostId: "fb-two", liveSessionId: session })));
      const expected = await roomIds(session, start);
      for (const c of subs) {
        await eventually(async () => expect(c.ids()).toEqual(expected), 20_000);
        inOrderOnce(c);
      }
      for (const g of [a, b]) expect(g.stats.busSubscriptions + g.stats.upstreamSubscriptions).toBe(1);
    });

    it("unsubscribe releases everything the subscription held (its broker subscription, its earnings subscription) and delivers nothing after", async () => {
      const session = await room("fb-release");
      const hub = earnings.services.stream;
      const base = hub.stats.subscribers;
      const { bus, stats } = gateway();
      const live1 = collect(bus, session, null);
      const resumed = collect(bus, session, 0);
      await live([bus], base + 2);
      await credit([item({ hostId: "fb-release", liveSessionId: session, giftEventId: "fb-release-1" })]);
      await eventually(async () => expect([live1.ids(), resumed.ids()]).toEqual([["fb-release-1"], ["fb-release-1"]]), 20_000);
      live1.sub.unsubscribe();
      resumed.sub.unsubscribe();
      await eventually(async () => {
        expect(stats).toMatchObject({ busSubscriptions: 0, upstreamSubscriptions: 0 });
        expect(t.brokerSubscriptions(bus)).toBe(0);
        expect(hub.stats.subscribers).toBe(base);
      }, 20_000);
      await credit([item({ hostId: "fb-release", liveSessionId: session, giftEventId: "fb-release-2" })]);
      // A later subscriber sees the row, the released ones never do.
      const after = collect(bus, session, 0);
      await eventually(async () => expect(after.ids()).toEqual(["fb-release-1", "fb-release-2"]), 20_000);
      expect([live1.ids(), resumed.ids()]).toEqual([["fb-release-1"], ["fb-release-1"]]);
      after.sub.unsubscribe();
    });
  });
}
