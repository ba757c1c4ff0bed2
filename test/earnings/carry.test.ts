import "reflect-metadata";
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import type { LoggedEvent } from "../../platform/eventlog.js";
import { GIFT_SENT, type GiftSentPayload } from "../../platform/events.js";
import { applyGiftBatch } from "../../subgraphs/earnings/domain/credits.js";
import { GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { createTestDatabase } from "../support/db.js";
import { eventually } from "../support/eventually.js";
import { diamondRuleViolations, earningsDataSource, gift, one, produce } from "./support.js";

/**
 * Diamonds carry their remainder per creator and share period: credited diamonds =
 * floor(Σ coins × share) at every moment, never more, each gift credited once, and each
 * gift's own `diamonds` is what it added (docs/earnings.md, "The carry").
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;

beforeAll(async () => {
  db = await createTestDatabase("earncarry");
  ({ ds } = await earningsDataSource(db.url));
});
afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

async function consumer(source = ds, batchSize = 500): Promise<GiftCreditConsumer> {
  const c = new GiftCreditConsumer(source, { batchSize });
  await c.consumer.ensure();
  return c;
}

const lifetime = async (host: string) => Number((await one(ds, `SELECT lifetime_diamonds AS d FROM earnings.creators WHERE id = $1`, [host]))?.d ?? 0);
const ledgerSum = async (host: string) => Number((await one(ds, `SELECT coalesce(sum(amount), 0) AS s FROM earnings.diamond_ledger WHERE creator_id = $1`, [host])).s);
const violations = () => diamondRuleViolations((sql, p) => ds.query(sql, p));
const creditedCoins = async (host: string) => Number((await one(ds, `SELECT coalesce(sum(coins), 0) AS c FROM earnings.gift_credits WHERE host_id = $1`, [host])).c);

/** Admin overrides already in force (setRevenueShare refuses the past, so tests write history directly). */
async function shareHistory(host: string, rows: [string, number][]): Promise<void> {
  await ds.query(`INSERT INTO earnings.creators (id, display_name) VALUES ($1, $1) ON CONFLICT DO NOTHING`, [host]);
  for (const [from, bps] of rows) {
    await ds.query(`INSERT INTO earnings.revenue_shares (creator_id, effective_from, share_bps, set_by) VALUES ($1, $2, $3, 'admin')`, [host, from, bps]);
  }
}

/** Events as the event log hands them to a consumer, for calling applyGiftBatch directly. */
const logged = (gifts: GiftSentPayload[]): LoggedEvent<GiftSentPayload>[] =>
  gifts.map((p, i) => ({ position: `1:${i}`, id: randomUUID(), type: GIFT_SENT, key: p.hostId, payload: p, createdAt: new Date() }));

describe("diamonds carry the remainder per creator and share period", () => {
  it("101 one-coin Roses at 50% credit 50 diamonds, not 0 — after every batch exactly floor(Σ coins × 50%), and each Rose's diamonds are what it added", async () => {
    const host = "c-roses";
    const c = await consumer(ds, 10);
    await produce(ds, Array.from({ length: 101 }, () => gift({ hostId: host, giftId: "rose", unitCost: 1 })));
    let batches = 0;
    while ((await c.consumer.pollOnce()) > 0) {
      batches++;
      const coins = await creditedCoins(host);
      expect(await lifetime(host), `after batch ${batches} (${coins} coins)`).toBe(Math.floor(coins / 2));
      expect(await violations()).toEqual([]);
    }
    expect(batches).toBe(11);
    expect(await lifetime(host)).toBe(50);
    expect(await ledgerSum(host)).toBe(50);
    // Each gift event shows what it added: 0, 1, 0, 1, … in credit order, on the credits and on the host's feed.
    const perGift = await ds.query(
      `SELECT g.diamonds AS credited, f.diamonds AS shown FROM earnings.gift_credits g JOIN earnings.gift_feed f ON f.id = g.gift_event_id::text
        WHERE g.host_id = $1 ORDER BY f.seq`,
      [host],
    );
    expect(perGift.map((r: any) => Number(r.shown))).toEqual(Array.from({ length: 101 }, (_, i) => i % 2));
    expect(perGift.every((r: any) => r.credited === r.shown)).toBe(true);
  });

  it("a share change mid-stream splits the periods: each is floored on its own total (22 diamonds, not 23), whatever order the gifts are credited in", async () => {
    const host = "c-split";
    const t1 = "2026-03-01T12:00:00.000Z";
    await shareHistory(host, [[t1, 3333]]);
    const before = Array.from({ length: 9 }, (_, i) => gift({ hostId: host, unitCost: 3, sentAt: new Date(Date.parse(t1) - 1 - i * 60_000).toISOString() }));
    const after = Array.from({ length: 10 }, (_, i) => gift({ hostId: host, unitCost: 3, sentAt: new Date(Date.parse(t1) + i * 60_000).toISOString() }));
    // Credited interleaved, not in sentAt order: the period comes from sentAt.
    const mixed = before.flatMap((g, i) => [after[i], g]).concat(after.slice(9));
    const c = await consumer(ds, 4);
    await produce(ds, mixed);
    while ((await c.consumer.pollOnce()) > 0) expect(await violations()).toEqual([]);
    // 27 coins at 50% → 13; 30 coins at 33.33% → 9 (one 3-coin gift alone is 0.9999 → 0). One merged carry would pay 23.
    const periods = await ds.query(
      `SELECT share_from::text = '-infinity' AS default_share, share_bps, coins_total, diamonds_total FROM earnings.diamond_carry WHERE host_id = $1 ORDER BY share_from`,
      [host],
    );
    expect(periods).toEqual([
      { default_share: true, share_bps: 5000, coins_total: "27", diamonds_total: "13" },
      { default_share: false, share_bps: 3333, coins_total: "30", diamonds_total: "9" },
    ]);
    expect(await lifetime(host)).toBe(22);
    const perPeriod = await ds.query(`SELECT share_bps, sum(diamonds)::int AS d, count(*)::int AS n FROM earnings.gift_credits WHERE host_id = $1 GROUP BY 1 ORDER BY 1`, [host]);
    expect(perPeriod).toEqual([
      { share_bps: 3333, d: 9, n: 10 },
      { share_bps: 5000, d: 13, n: 9 },
    ]);
  });

  it("a replayed or duplicated gift.sent is credited once and never advances the carry twice", async () => {
    const host = "c-dup";
    const c = await consumer(ds, 3);
    const gifts = Array.from({ length: 5 }, () => gift({ hostId: host, unitCost: 1 }));
    // Duplicates in the same batch, in a later batch, and after a rewind of the read position.
    await produce(ds, [gifts[0], gifts[0], gifts[1], gifts[2], gifts[1], gifts[3], gifts[4], gifts[0]]);
    await c.drain();
    await ds.query(`UPDATE earnings.consumer_positions SET tx = '0', id = 0 WHERE consumer = 'earnings-gift-credits'`);
    await c.drain();
    expect(Number((await one(ds, `SELECT count(*) AS n FROM earnings.gift_credits WHERE host_id = $1`, [host])).n)).toBe(5);
    expect(await one(ds, `SELECT coins_total, diamonds_total FROM earnings.diamond_carry WHERE host_id = $1`, [host])).toEqual({ coins_total: "5", diamonds_total: "2" });
    expect(await lifetime(host)).toBe(2);
    expect(await violations()).toEqual([]);
  });

  it("at every moment, for random hosts, share histories, gift sizes, credit order and re-deliveries, credited diamonds = floor(Σ coins × share) per creator and period", async () => {
    const hosts = ["c-rand-0", "c-rand-1", "c-rand-2"];
    const base = Date.parse("2026-05-01T00:00:00Z");
    const histories: [string, number][][] = [[], [[new Date(base + 3_600_000).toISOString(), 7001]], [[new Date(base + 1_800_000).toISOString(), 3333], [new Date(base + 5_400_000).toISOString(), 1]]];
    for (let h = 0; h < hosts.length; h++) await shareHistory(hosts[h], histories[h]);
    const samples = fc.sample(
      fc.array(fc.record({ host: fc.nat(2), unitCost: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 99 }), fc.integer({ min: 100, max: 44_999 })), quantity: fc.integer({ min: 1, max: 7 }), minute: fc.nat(119) }), { minLength: 400, maxLength: 400 }),
      { numRuns: 1, seed: 46 },
    )[0];
    const gifts = samples.map((g) => gift({ hostId: hosts[g.host], unitCost: g.unitCost, quantity: g.quantity, sentAt: new Date(base + g.minute * 60_000 + 7).toISOString() }));
    const c = await consumer(ds, 13);
    await produce(ds, gifts.slice(0, 250));
    while ((await c.consumer.pollOnce()) > 0) expect(await violations()).toEqual([]);
    await produce(ds, [...gifts.slice(250), ...gifts.slice(0, 40)]); // the last forty re-deliver earlier gifts
    while ((await c.consumer.pollOnce()) > 0) expect(await violations()).toEqual([]);
    // Independently of the tables: group the generated gifts by the share in force at sentAt.
    for (let h = 0; h < hosts.length; h++) {
      const owed = new Map<string, { coins: number; bps: number }>();
      for (const g of gifts.filter((x) => x.hostId === hosts[h])) {
        const row = histories[h].filter(([from]) => Date.parse(from) <= Date.parse(g.sentAt)).at(-1);
        const k = row?.[0] ?? "default";
        const p = owed.get(k) ?? { coins: 0, bps: row?.[1] ?? 5000 };
        p.coins += g.coins;
        owed.set(k, p);
      }
      const expected = [...owed.values()].reduce((s, p) => s + Number((BigInt(p.coins) * BigInt(p.bps)) / 10_000n), 0);
      expect(owed.size, `${hosts[h]} periods`).toBe(histories[h].length + 1);
      expect(await lifetime(hosts[h]), hosts[h]).toBe(expected);
      expect(await ledgerSum(hosts[h]), hosts[h]).toBe(expected);
    }
  });
});

describe("the carry under concurrent consumers", () => {
  it("a second batch for the same host waits on the carry row until the first commits, then prices on its total", async () => {
    const host = "c-lock";
    // A creator who has earned before (their carry row exists): 2 coins → 1 diamond.
    await ds.transaction((m) => applyGiftBatch(m, logged([gift({ hostId: host, unitCost: 2 })])));
    const first = logged([gift({ hostId: host, unitCost: 1 })]);
    const second = logged([gift({ hostId: host, unitCost: 1 })]);
    const other = await earningsDataSource(db.url, 2);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    // Read outside the admin's transaction: pg_stat_activity is a snapshot per transaction.
    const waiting = async (like: string) =>
      (await one(ds, `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE $1`, [like])).n;
    try {
      // Hold the first batch after it priced its gift and before it commits: the creator's row, locked
      // as a payout's balance update locks it, stops it at its own balance update, with its carry row locked.
      await admin.query(`BEGIN`);
      await admin.query(`SELECT 1 FROM earnings.creators WHERE id = $1 FOR NO KEY UPDATE`, [host]);
      const runFirst = ds.transaction((m) => applyGiftBatch(m, first));
      await eventually(async () => expect(await waiting("%UPDATE earnings.creators%")).toBe(1));
      // Another instance (or a partition being rebalanced) gets a gift for the same host: it waits on the
      // carry row (its first statement that touches it), before reading any total.
      let secondDone = false;
      const runSecond = other.ds.transaction((m) => applyGiftBatch(m, second)).then(() => (secondDone = true));
      await eventually(async () => expect(await waiting("%earnings.diamond_carry%")).toBe(1));
      expect(secondDone).toBe(false);
      await admin.query(`ROLLBACK`);
      await Promise.all([runFirst, runSecond]);
    } finally {
      await admin.end();
      await other.ds.destroy();
    }
    // 1 more coin → 0 (3 coins: 1 diamond), then 1 more → 1 (4 coins: 2): the second priced on the first's committed total, not on a stale 2 coins.
    const perGift = await ds.query(`SELECT gift_event_id::text AS id, diamonds FROM earnings.gift_credits WHERE host_id = $1 AND coins = 1`, [host]);
    expect(Object.fromEntries(perGift.map((r: any) => [r.id, Number(r.diamonds)]))).toEqual({ [first[0].payload.giftEventId]: 0, [second[0].payload.giftEventId]: 1 });
    expect(await lifetime(host)).toBe(2);
    expect(await violations()).toEqual([]);
  });

  it("many concurrent batches with overlapping gifts for the same hosts credit each gift once and keep the rule", async () => {
    const hosts = ["c-conc-0", "c-conc-1"];
    const gifts = Array.from({ length: 240 }, (_, i) => gift({ hostId: hosts[i % 2], senderId: `fan-${i % 5}`, unitCost: 1 + (i % 3) }));
    const pools = await Promise.all(Array.from({ length: 3 }, () => earningsDataSource(db.url, 3)));
    try {
      // Twelve batches of 40 consecutive gifts, each overlapping the next by half, on three connections pools at once —
      // what two consumers would do without the advisory lock (e.g. partitioned by host while a partition moves).
      const batches = Array.from({ length: 12 }, (_, b) => logged(Array.from({ length: 40 }, (_, j) => gifts[(b * 20 + j) % gifts.length])));
      await Promise.all(batches.map((events, b) => pools[b % 3].ds.transaction((m) => applyGiftBatch(m, events))));
    } finally {
      await Promise.all(pools.map((p) => p.ds.destroy()));
    }
    for (const h of hosts) {
      const mine = gifts.filter((g) => g.hostId === h);
      expect(Number((await one(ds, `SELECT count(*) AS n FROM earnings.gift_credits WHERE host_id = $1`, [h])).n)).toBe(mine.length);
      expect(await lifetime(h)).toBe(Math.floor(mine.reduce((s, g) => s + g.coins, 0) / 2));
      expect(await ledgerSum(h)).toBe(await lifetime(h));
    }
    expect(await violations()).toEqual([]);
  });
});
