import "reflect-metadata";
import { headers } from "@nats-io/transport-node";
import type { DataSource } from "typeorm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { NatsEventLog, type JetStreamEventConsumer, type OutboxRelay } from "../../platform/eventlog/nats.js";
import { appendEvent } from "../../platform/eventlog.js";
import { GIFT_SENT } from "../../platform/events.js";
import { GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { FeedRelay } from "../../subgraphs/earnings/transport/stream/nats-feed.js";
import { createTestDatabase } from "../support/db.js";
import { eventually } from "../support/eventually.js";
import { earningsDataSource, gift, one, produce } from "../earnings/support.js";
import { isolated, OwnNatsServer } from "./support.js";

/**
 * Faults only the NATS transport has: the broker itself dies during a gift storm, the relay dies
 * between JetStream's ack and its own commit, and an event reaches the stream twice anyway.
 */
const PARTITIONS = 8;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  db = await createTestDatabase("natsfaults");
  ({ ds } = await earningsDataSource(db.url));
});
// Each test's relays and consumers go with it: they would otherwise relay and credit the next test's gifts.
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});
afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

/** An earnings "process" on NATS: its own pool, connection and gift consumer. */
async function earningsInstance(opts: ConstructorParameters<typeof NatsEventLog>[0]) {
  const own = (await earningsDataSource(db.url, 3)).ds;
  const log = new NatsEventLog({ ...opts, name: "earnings" });
  const credits = new GiftCreditConsumer(own, { partitions: PARTITIONS, batchSize: 40, log });
  await credits.start();
  cleanups.push(async () => {
    await credits.stop();
    await log.close();
    await own.destroy();
  });
  return { ds: own, log, credits };
}

async function relayOf(opts: ConstructorParameters<typeof NatsEventLog>[0]): Promise<{ log: NatsEventLog; relay: OutboxRelay }> {
  const log = new NatsEventLog({ ...opts, name: "relay" });
  const relay = log.relay(ds, { [GIFT_SENT]: PARTITIONS }, { batchSize: 50, idleMs: 50 });
  await relay.start();
  cleanups.push(async () => {
    await relay.stop();
    await log.close();
  });
  return { log, relay };
}

const count = async (sql: string, params: unknown[] = []) => Number((await one(ds, sql, params)).n);

describe("NATS JetStream transport faults", () => {
  it("credits every gift exactly once, in order per host, when the NATS server is killed and restarted during a gift storm", async () => {
    const server = new OwnNatsServer();
    await server.start();
    cleanups.push(() => server.stop());
    const opts = isolated("storm", { url: server.url, publishTimeoutMs: 1_000 });
    const { log: relayLog, relay } = await relayOf(opts);
    const feed = new FeedRelay(ds, relayLog, { idleMs: 50 });
    await feed.start();
    cleanups.push(() => feed.stop());
    await earningsInstance(opts);
    await earningsInstance(opts);

    const hosts = Array.from({ length: 16 }, (_, i) => `storm-h${i}`);
    const sent: ReturnType<typeof gift>[] = [];
    let storming = true;
    const storm = (async () => {
      for (let round = 0; storming || round < 30; round++) {
        const batch = hosts.map((hostId, h) => gift({ hostId, senderId: `storm-v${round % 5}`, unitCost: 1 + ((h + round) % 7) }));
        await produce(ds, batch);
        sent.push(...batch);
        if (round >= 2000) break;
      }
    })();
    await eventually(async () => expect(relay.published).toBeGreaterThan(100), 30_000);
    await server.kill();
    // Gifts keep coming while the broker is down: they wait in the outbox.
    const during = sent.length;
    await eventually(async () => expect(sent.length).toBeGreaterThan(during + 32), 30_000);
    await server.start();
    storming = false;
    await storm;

    await eventually(async () => expect(await count(`SELECT count(*) AS n FROM earnings.gift_credits WHERE host_id LIKE 'storm-%'`)).toBe(sent.length), 60_000);
    await eventually(async () => expect((await relay.lag()).pendingEvents).toBe(0), 30_000);
    expect(await count(`SELECT count(*) AS n FROM earnings.gift_feed WHERE kind = 'gift' AND host_id LIKE 'storm-%'`)).toBe(sent.length);
    for (const host of hosts) {
      const mine = sent.filter((g) => g.hostId === host);
      const c = await one(ds, `SELECT coins_received AS coins, gifts_received AS gifts, diamonds FROM earnings.creators WHERE id = $1`, [host]);
      expect({ host, coins: Number(c.coins), gifts: Number(c.gifts) }).toEqual({ host, coins: mine.reduce((s, g) => s + g.coins, 0), gifts: mine.length });
      expect(await count(`SELECT coalesce(sum(amount), 0) AS n FROM earnings.diamond_ledger WHERE creator_id = $1`, [host])).toBe(Number(c.diamonds));
      const order = (await ds.query(`SELECT id FROM earnings.gift_feed WHERE host_id = $1 AND kind = 'gift' ORDER BY seq`, [host])).map((r: { id: string }) => r.id);
      expect(order).toEqual(mine.map((g) => g.giftEventId));
    }
    // The stream holds each event once, and each host's feed subject each feed row once.
    const jsm = await relayLog.jsm();
    expect((await jsm.streams.info(opts.stream!)).state.messages).toBe(sent.length);
    await eventually(async () => {
      const rows = await count(`SELECT count(*) AS n FROM earnings.gift_feed WHERE host_id LIKE 'storm-%'`);
      const info = await jsm.streams.info(feed.stream, { subjects_filter: `${opts.feedSubjectPrefix}.host.>` });
      expect(info.state.messages).toBe(rows);
    }, 30_000);
  });

  it("re-publishes a batch the relay sent but did not commit, and JetStream drops every copy (Nats-Msg-Id = event id)", async () => {
    const opts = isolated("relaycrash");
    cleanups.push(async () => {
      const l = new NatsEventLog(opts);
      await (await l.jsm()).streams.delete(opts.stream!).catch(() => undefined);
      await l.close();
    });
    const { relay } = await relayOf(opts);
    let crashed = 0;
    relay.hooks.afterPublish = async (m) => {
      if (crashed++ > 0) return;
      // Every message of the batch is in the stream; the relay's session dies before its COMMIT.
      const [{ pid }] = await m.query(`SELECT pg_backend_pid() AS pid`);
      await ds.query(`SELECT pg_terminate_backend($1)`, [pid]);
    };
    const { credits } = await earningsInstance(opts);
    const gifts = Array.from({ length: 120 }, (_, i) => gift({ hostId: `rc-h${i % 6}`, unitCost: 3 }));
    await produce(ds, gifts);

    await eventually(async () => expect(await count(`SELECT count(*) AS n FROM earnings.gift_credits WHERE host_id LIKE 'rc-%'`)).toBe(gifts.length), 30_000);
    expect(crashed).toBeGreaterThan(1);
    expect(relay.duplicates).toBeGreaterThan(0);
    // (This stream is new: the relay sent it the whole outbox, earlier tests' gifts included, each once.)
    const log = new NatsEventLog(opts);
    expect((await (await log.jsm()).streams.info(opts.stream!)).state.messages).toBe(await count(`SELECT count(*) AS n FROM eventlog.events WHERE type = $1`, [GIFT_SENT]));
    await log.close();
    // Earlier tests' gifts were credited already (same position rows): skipped by outbox position, never handled twice.
    expect(credits.totals).toMatchObject({ credited: gifts.length, duplicates: 0 });
  });

  it("hands an event to the handler once even when a copy reaches the stream after the duplicate window", async () => {
    const opts = isolated("latecopy");
    const log = new NatsEventLog(opts);
    cleanups.push(async () => {
      await (await log.jsm()).streams.delete(opts.stream!).catch(() => undefined);
      await log.close();
    });
    const type = "late.copy";
    const { relay } = await (async () => {
      const rl = new NatsEventLog({ ...opts, name: "relay" });
      const r = rl.relay(ds, { [type]: 2 }, { idleMs: 50 });
      await r.start();
      cleanups.push(async () => {
        await r.stop();
        await rl.close();
      });
      return { relay: r };
    })();
    await ds.query(`CREATE TABLE IF NOT EXISTS earnings.late_copies (event_id uuid NOT NULL, n int NOT NULL)`);
    const consumer = log.consumer<{ n: number }>(ds, {
      name: "late-copies",
      schema: "earnings",
      types: [type],
      partitions: 2,
      handle: async (m, events) => {
        await m.query(`INSERT INTO earnings.late_copies SELECT * FROM unnest($1::uuid[], $2::int[])`, [events.map((e) => e.id), events.map((e) => e.payload.n)]);
      },
    });
    await consumer.start();
    cleanups.push(() => consumer.stop());
    const ids: string[] = [];
    await ds.transaction(async (m) => {
      for (let n = 1; n <= 10; n++) ids.push(await appendEvent(m, { type, key: `k${n % 3}`, payload: { n } }));
    });
    await eventually(async () => expect(await count(`SELECT count(*) AS n FROM earnings.late_copies`)).toBe(10), 30_000);
    expect(relay.published).toBe(10);

    // A relay that was down longer than the duplicate window re-publishes: same event, new message id.
    const jsm = await log.jsm();
    const js = await log.js();
    const stored = await jsm.streams.getMessage(opts.stream!, { seq: 3 });
    const h = headers();
    for (const [k, v] of stored!.header) h.set(k, v[0]);
    const ack = await js.publish(stored!.subject, stored!.data, { msgID: `${h.get("Nats-Msg-Id")}-late`, headers: h });
    expect(ack.duplicate).toBe(false);
    await eventually(async () => expect((await consumer.lag()).pendingEvents).toBe(0), 30_000);
    expect(await count(`SELECT count(*) AS n FROM earnings.late_copies`)).toBe(10);
    expect(new Set((await ds.query(`SELECT event_id::text AS id FROM earnings.late_copies`)).map((r: { id: string }) => r.id))).toEqual(new Set(ids));
  });
  it("serves a partition again when its worker's pull requests are lost: gifts sent after it are credited, once", async () => {
    const opts = isolated("lostpulls");
    cleanups.push(async () => {
      const l = new NatsEventLog(opts);
      await (await l.jsm()).streams.delete(opts.stream!).catch(() => undefined);
      await l.close();
    });
    await relayOf(opts);
    const { credits } = await earningsInstance(opts);
    const consumer = credits.consumer as JetStreamEventConsumer;
    await eventually(async () => expect(consumer.claimed).toHaveLength(PARTITIONS), 30_000);
    const first = Array.from({ length: 16 }, (_, i) => gift({ hostId: `lp-h${i % 8}`, unitCost: 2 }));
    await produce(ds, first);
    await eventually(async () => expect(await count(`SELECT count(*) AS n FROM earnings.gift_credits WHERE host_id LIKE 'lp-%'`)).toBe(first.length), 30_000);

    // Every worker's subscription goes deaf while the worker still looks alive — what lost pull
    // requests look like from the client: nothing arrives, nothing closes, nothing re-pulls.
    type Deafened = { sub: { unsubscribe(): void }; clearTimers(): void };
    const workers = (consumer as unknown as { workers: Map<number, { messages: Deafened }> }).workers;
    for (const w of workers.values()) {
      w.messages.clearTimers();
      w.messages.sub.unsubscribe();
    }
    const watcher = new NatsEventLog(opts);
    cleanups.push(() => watcher.close());
    const jsm = await watcher.jsm();
    // The server forgets the pull requests (no interest, or they expire).
    await eventually(async () => expect((await jsm.consumers.info(opts.stream!, consumer.durable(0))).num_waiting).toBe(0), 45_000);
    const later = Array.from({ length: 16 }, (_, i) => gift({ hostId: `lp-h${i % 8}`, unitCost: 5 }));
    await produce(ds, later);
    await eventually(async () => expect(await count(`SELECT count(*) AS n FROM earnings.gift_credits WHERE host_id LIKE 'lp-%'`)).toBe(first.length + later.length), 45_000);
    expect(consumer.stalls).toBeGreaterThan(0);
    expect(credits.totals).toMatchObject({ credited: first.length + later.length, duplicates: 0 });
  });
});

