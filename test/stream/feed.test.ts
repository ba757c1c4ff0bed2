import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDataSource, migrate } from "../../platform/db.js";
import { entities, migrations } from "../../subgraphs/earnings/db/index.js";
import { appendToFeed, endIdleCombos, FEED_CHANNEL, planAppend, type FeedItem } from "../../subgraphs/earnings/domain/feed.js";
import { createTestDatabase, sql } from "../support/db.js";
import { pollUntil } from "../support/eventually.js";
import type { DataSource } from "typeorm";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;

export function gift(over: Partial<FeedItem> = {}): FeedItem {
  const quantity = over.quantity ?? 1;
  const unitCost = over.unitCost ?? 10;
  return {
    giftEventId: randomUUID(), hostId: "host-1", liveSessionId: null, senderId: "viewer-1", senderName: "Viewer One",
    giftId: "rose", quantity, unitCost, coins: unitCost * quantity, diamonds: Math.floor(unitCost * quantity / 2), comboId: null, sentAt: new Date(),
    ...over,
  };
}

async function rows(where = "true") {
  return ds.query(`SELECT seq::int, id, kind, quantity, coins::int, combo_id, combo_count, combo_ended FROM earnings.gift_feed WHERE ${where} ORDER BY seq`);
}

beforeAll(async () => {
  db = await createTestDatabase("feed");
  ({ dataSource: ds } = createDataSource({ url: db.url, schema: "earnings", entities, migrations, poolSize: 12 }));
  await ds.initialize();
  await migrate(ds, "earnings");
});
afterAll(async () => {
  await ds?.destroy();
  await db?.drop();
});

describe("appendToFeed", () => {
  it("stores credited gifts in the order given and skips a gift already in the feed", async () => {
    const a = gift({ hostId: "h-order" });
    const b = gift({ hostId: "h-order", quantity: 3 });
    await ds.transaction((m) => appendToFeed(m, [a, b]));
    await ds.transaction((m) => appendToFeed(m, [b, a]));
    const r = await rows(`host_id = 'h-order'`);
    expect(r.map((x: any) => x.id)).toEqual([a.giftEventId, b.giftEventId]);
    expect(r[1].coins).toBe(30);
  });

  it("writes nothing when the caller's transaction rolls back", async () => {
    const a = gift({ hostId: "h-rollback" });
    await expect(ds.transaction(async (m) => {
      await appendToFeed(m, [a]);
      throw new Error("credit failed");
    })).rejects.toThrow("credit failed");
    expect(await rows(`host_id = 'h-rollback'`)).toEqual([]);
  });

  it("refuses malformed items (coins must equal unitCost × quantity) and leaves no partial rows", async () => {
    const ok = gift({ hostId: "h-bad" });
    const bad = { ...gift({ hostId: "h-bad" }), coins: 7 };
    await expect(ds.transaction((m) => appendToFeed(m, [ok, bad]))).rejects.toThrow(/coins/);
    expect(await rows(`host_id = 'h-bad'`)).toEqual([]);
  });

  it("notifies listeners at commit, not before", async () => {
    const client = await sql(db.url);
    const seen: string[] = [];
    client.on("notification", (n) => seen.push(n.channel));
    await client.query(`LISTEN ${FEED_CHANNEL}`);
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    await appendToFeed(qr.manager, [gift({ hostId: "h-notify" })]);
    await client.query("SELECT 1");
    expect(seen).toEqual([]);
    await qr.commitTransaction();
    await qr.release();
    await pollUntil(() => seen.length > 0, (arrived) => arrived, 5_000);
    expect(seen).toEqual([FEED_CHANNEL]);
    await client.end();
  });

  it("reads the feed through its id index whatever its length: an append ending an earlier batch's combo scans none of 10,000 rows", async () => {
    await ds.query(
      `INSERT INTO earnings.gift_feed (id, kind, host_id, sender_id, sender_name, gift_id, quantity, unit_cost, coins, diamonds, sent_at)
       SELECT 'filler-' || g, 'gift', 'h-filler', 'v-filler', 'Filler', 'rose', 1, 1, 1, 0, now() FROM generate_series(1, 10000) g`,
    );
    await ds.query(`ANALYZE earnings.gift_feed`);
    const first = gift({ hostId: "h-long", senderId: "v-long", senderName: "Long Streak", comboId: "c-long" });
    await ds.transaction((m) => appendToFeed(m, [first]));
    // The streak's end row copies its last gift, which only the feed has (an earlier batch).
    const batch = [gift({ hostId: "h-long", senderId: "v-long" }), ...Array.from({ length: 14 }, (_, i) => gift({ hostId: "h-long", senderId: `v-long-${i}` }))];
    const scans = await ds.transaction(async (m) => {
      await appendToFeed(m, batch);
      const [r] = await m.query(`SELECT seq_scan::int AS seq FROM pg_stat_xact_user_tables WHERE relid = 'earnings.gift_feed'::regclass`);
      return r as { seq: number };
    });
    expect(scans.seq).toBe(0);
    const [end] = await ds.query(`SELECT sender_name, combo_count, combo_ended FROM earnings.gift_feed WHERE id = $1`, [`${first.giftEventId}:combo-end`]);
    expect(end).toEqual({ sender_name: "Long Streak", combo_count: 1, combo_ended: true });
  });

  it("concurrent appenders commit in seq order: a reader of 'seq > cursor' never misses a later-committing row", async () => {
    // Hold one append open, start others, then commit: the others wait on the feed lock, so
    // no row with a higher seq can become visible while a lower one is still pending.
    const qr = ds.createQueryRunner();
    await qr.connect();
    await qr.startTransaction();
    await appendToFeed(qr.manager, [gift({ hostId: "h-conc", giftEventId: "first" })]);
    const others = Array.from({ length: 6 }, (_, i) => ds.transaction((m) => appendToFeed(m, [gift({ hostId: "h-conc", giftEventId: `later-${i}` })])));
    const probe = await sql(db.url);
    for (let waiting = 0; waiting < 6; ) {
      ({ rows: [{ waiting }] } = await probe.query(`SELECT count(*)::int AS waiting FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`));
    }
    await probe.end();
    expect(await rows(`host_id = 'h-conc'`)).toEqual([]);
    await qr.commitTransaction();
    await qr.release();
    await Promise.all(others);
    const r = await rows(`host_id = 'h-conc'`);
    expect(r[0].id).toBe("first");
    expect(new Set(r.map((x: any) => x.id)).size).toBe(7);
  });
});

describe("combos", () => {
  it("counts a streak of the same gift from the same sender and ends it when the sender sends something else", async () => {
    const h = { hostId: "h-combo", senderId: "s1" };
    await ds.transaction((m) => appendToFeed(m, [gift({ ...h, comboId: "c1" }), gift({ ...h, comboId: "c1", quantity: 2 })]));
    await ds.transaction((m) => appendToFeed(m, [gift({ ...h, comboId: "c1" })]));
    // another sender's gifts do not touch s1's streak
    await ds.transaction((m) => appendToFeed(m, [gift({ hostId: "h-combo", senderId: "s2", comboId: "c1" })]));
    await ds.transaction((m) => appendToFeed(m, [gift({ ...h, giftId: "lion" })]));
    const r = await rows(`host_id = 'h-combo' AND sender_id = 's1'`);
    expect(r.map((x: any) => [x.kind, x.quantity, x.combo_count, x.combo_ended])).toEqual([
      ["gift", 1, 1, false],
      ["gift", 2, 3, false],
      ["gift", 1, 4, false],
      ["combo_end", 0, 4, true],
      ["gift", 1, null, null],
    ]);
    const [{ q, c }] = await ds.query(`SELECT sum(quantity)::int AS q, sum(coins)::int AS c FROM earnings.gift_feed WHERE host_id = 'h-combo' AND sender_id = 's1'`);
    expect([q, c]).toEqual([5, 50]);
  });

  it("a combo idle past the timeout gets an end row copied from its last gift; an open one does not", async () => {
    const last = gift({ hostId: "h-idle", senderId: "s1", comboId: "c9", liveSessionId: "ls-1", senderName: "Sam" });
    await ds.transaction((m) => appendToFeed(m, [last]));
    await ds.transaction((m) => appendToFeed(m, [gift({ hostId: "h-idle", senderId: "s2", comboId: "c8" })]));
    await ds.query(`UPDATE earnings.gift_open_combos SET last_at = now() - interval '1 minute' WHERE host_id = 'h-idle' AND sender_id = 's1'`);
    expect(await ds.transaction((m) => endIdleCombos(m, 5000))).toBe(1);
    expect(await ds.transaction((m) => endIdleCombos(m, 5000))).toBe(0);
    const [end] = await ds.query(`SELECT * FROM earnings.gift_feed WHERE kind = 'combo_end' AND host_id = 'h-idle'`);
    expect(end).toMatchObject({ id: `${last.giftEventId}:combo-end`, sender_id: "s1", sender_name: "Sam", live_session_id: "ls-1", gift_id: "rose", quantity: 0, combo_count: 1, combo_ended: true });
  });

  it("planAppend places the end of a broken streak before the gift that broke it", () => {
    const a = gift({ comboId: "x" });
    const b = gift({ comboId: "y" });
    const { rows: r } = planAppend(new Map(), [a, b]);
    expect(r.map((x) => [x.kind, x.comboId, x.comboCount])).toEqual([["gift", "x", 1], ["combo_end", "x", 1], ["gift", "y", 1]]);
    expect(r[1].senderName).toBe(a.senderName);
  });
});
