import "reflect-metadata";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import { createDataSource, migrate } from "../../platform/db.js";
import { ensureEventLog } from "../../platform/eventlog.js";
import { entities, migrations } from "../../subgraphs/earnings/db/index.js";
import { DiamondCarry1732300400000 } from "../../subgraphs/earnings/db/migrations/1732300400000-DiamondCarry.js";
import { GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { createTestDatabase } from "../support/db.js";
import { diamondRuleViolations, gift, one, produce } from "./support.js";

/**
 * The DiamondCarry migration on a database credited under the old per-gift rule: it builds the
 * carry rows from the existing credits, pays what per-gift flooring withheld with one recorded
 * ADJUSTMENT per creator, and new gifts then continue each period's carry.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;

// A share that took effect at a moment with microseconds (setRevenueShare's now()).
const SHARE_FROM = "2026-02-01T00:00:00.123456Z";

beforeAll(async () => {
  db = await createTestDatabase("earncarrymig");
  const old = createDataSource({ url: db.url, schema: "earnings", entities, migrations: migrations.slice(0, migrations.indexOf(DiamondCarry1732300400000)), poolSize: 2 }).dataSource;
  await old.initialize();
  await migrate(old, "earnings");
  // What the per-gift consumer left behind: credits floored one by one, balances, GIFTS entries.
  await old.query(`INSERT INTO earnings.creators (id, display_name) VALUES ('m-roses', 'Roses'), ('m-split', 'Split'), ('m-exact', 'Exact')`);
  await old.query(`INSERT INTO earnings.revenue_shares (creator_id, effective_from, share_bps, set_by) VALUES ('m-split', $1, 7000, 'admin')`, [SHARE_FROM]);
  const credit = (host: string, coins: number, bps: number, sentAt: string) => ({ host, coins, bps, sentAt, diamonds: Math.floor((coins * bps) / 10_000) });
  const rows = [
    ...Array.from({ length: 101 }, (_, i) => credit("m-roses", 1, 5000, new Date(Date.parse("2026-01-05T00:00:00Z") + i * 1000).toISOString())),
    // 5 × 3 coins at 50% before the override (1 each: 5, owed 7), one of them a millisecond before it starts…
    ...Array.from({ length: 4 }, (_, i) => credit("m-split", 3, 5000, `2026-01-2${i}T00:00:00.000Z`)),
    credit("m-split", 3, 5000, "2026-02-01T00:00:00.122Z"),
    // …and 7 × 1 coin at 70% from it on (0 each, owed 4), the first in its very first millisecond.
    ...Array.from({ length: 7 }, (_, i) => credit("m-split", 1, 7000, new Date(Date.parse("2026-02-01T00:00:00.123Z") + i * 1000).toISOString())),
    ...Array.from({ length: 4 }, (_, i) => credit("m-exact", 2, 5000, `2026-01-1${i}T00:00:00.000Z`)),
  ];
  await old.query(
    `INSERT INTO earnings.gift_credits (gift_event_id, host_id, sender_id, sender_name, gift_id, quantity, unit_cost, coins, share_bps, diamonds, sent_at, batch_id, event_position)
     SELECT gen_random_uuid(), h, 'fan', 'Fan', 'rose', 1, c, c, b, d, s, gen_random_uuid(), 'old' FROM unnest($1::text[], $2::bigint[], $3::int[], $4::bigint[], $5::timestamptz[]) AS x(h, c, b, d, s)`,
    [rows.map((r) => r.host), rows.map((r) => r.coins), rows.map((r) => r.bps), rows.map((r) => r.diamonds), rows.map((r) => r.sentAt)],
  );
  await old.query(`
    WITH t AS (SELECT host_id, sum(diamonds) AS d, sum(coins) AS c, count(*) AS n FROM earnings.gift_credits GROUP BY 1),
         u AS (UPDATE earnings.creators cr SET diamonds = t.d, lifetime_diamonds = t.d, coins_received = t.c, gifts_received = t.n FROM t WHERE cr.id = t.host_id RETURNING cr.id, t.d)
    INSERT INTO earnings.diamond_ledger (creator_id, type, amount, balance_after, reference) SELECT id, 'GIFTS', d, d, 'gift-batch:' || gen_random_uuid() FROM u WHERE d > 0`);
  await old.destroy();

  ds = createDataSource({ url: db.url, schema: "earnings", entities, migrations, poolSize: 4 }).dataSource;
  await ds.initialize();
  await migrate(ds, "earnings");
  await ensureEventLog(ds);
});
afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

const creator = (id: string) =>
  one(ds, `SELECT diamonds::int, lifetime_diamonds::int AS lifetime, (SELECT coalesce(sum(amount), 0)::int FROM earnings.diamond_ledger WHERE creator_id = $1) AS ledger FROM earnings.creators WHERE id = $1`, [id]);

describe("the diamond-carry migration on credits made under the per-gift rule", () => {
  it("builds one carry row per creator and share period from the existing credits, each at floor(Σ coins × share)", async () => {
    const carry = await ds.query(
      `SELECT host_id, share_from = '-infinity' AS default_share, share_bps, coins_total::int, diamonds_total::int, backfill_diamonds::int
         FROM earnings.diamond_carry ORDER BY host_id, share_from`,
    );
    expect(carry).toEqual([
      { host_id: "m-exact", default_share: true, share_bps: 5000, coins_total: 8, diamonds_total: 4, backfill_diamonds: 0 },
      { host_id: "m-roses", default_share: true, share_bps: 5000, coins_total: 101, diamonds_total: 50, backfill_diamonds: 50 },
      { host_id: "m-split", default_share: true, share_bps: 5000, coins_total: 15, diamonds_total: 7, backfill_diamonds: 2 },
      { host_id: "m-split", default_share: false, share_bps: 7000, coins_total: 7, diamonds_total: 4, backfill_diamonds: 4 },
    ]);
    // The override's period is keyed by its exact start, microseconds included.
    const [{ exact }] = await ds.query(`SELECT bool_and(share_from = $1::timestamptz) AS exact FROM earnings.diamond_carry WHERE host_id = 'm-split' AND share_bps = 7000`, [SHARE_FROM]);
    expect(exact).toBe(true);
  });

  it("pays what per-gift flooring withheld with one ADJUSTMENT ledger entry per creator owed anything, and leaves the old credits as they were", async () => {
    const adjustments = await ds.query(`SELECT creator_id, amount::int, balance_after::int, reference FROM earnings.diamond_ledger WHERE type = 'ADJUSTMENT' ORDER BY creator_id`);
    expect(adjustments).toEqual([
      { creator_id: "m-roses", amount: 50, balance_after: 50, reference: "diamond-carry-backfill" },
      { creator_id: "m-split", amount: 6, balance_after: 11, reference: "diamond-carry-backfill" },
    ]);
    expect(await creator("m-roses")).toEqual({ diamonds: 50, lifetime: 50, ledger: 50 });
    expect(await creator("m-split")).toEqual({ diamonds: 11, lifetime: 11, ledger: 11 });
    expect(await creator("m-exact")).toEqual({ diamonds: 4, lifetime: 4, ledger: 4 });
    // Each gift's own diamonds (what its GiftEvent showed) are history: the top-up belongs to no gift.
    const [{ roses }] = await ds.query(`SELECT sum(diamonds)::int AS roses FROM earnings.gift_credits WHERE host_id = 'm-roses'`);
    expect(roses).toBe(0);
    expect(await diamondRuleViolations((sql, p) => ds.query(sql, p))).toEqual([]);
  });

  it("a consumer of the previous version still running cannot credit around the carry: its per-gift insert is refused", async () => {
    // The old consumer's insert (no share_from): refused, so its batch rolls back and the new version credits the gift.
    await expect(
      ds.query(
        `INSERT INTO earnings.gift_credits (gift_event_id, host_id, sender_id, sender_name, gift_id, quantity, unit_cost, coins, share_bps, diamonds, sent_at, batch_id, event_position)
         VALUES (gen_random_uuid(), 'm-roses', 'fan', 'Fan', 'rose', 1, 1, 1, 5000, 0, now(), gen_random_uuid(), 'old-version')`,
      ),
    ).rejects.toThrow(/share_from/);
    // And a credit outside floor..ceil(coins × share) is refused whoever writes it.
    await expect(
      ds.query(
        `INSERT INTO earnings.gift_credits (gift_event_id, host_id, sender_id, sender_name, gift_id, quantity, unit_cost, coins, share_bps, diamonds, sent_at, batch_id, event_position, share_from)
         VALUES (gen_random_uuid(), 'm-roses', 'fan', 'Fan', 'rose', 1, 1, 1, 5000, 2, now(), gen_random_uuid(), 'too-much', '-infinity')`,
      ),
    ).rejects.toThrow(/gift_credits_diamonds_carried/);
  });

  it("new gifts continue each period's carry: credited diamonds stay floor(Σ coins × share), old gifts included", async () => {
    const c = new GiftCreditConsumer(ds, { batchSize: 500 });
    await c.consumer.ensure();
    await produce(ds, [
      gift({ hostId: "m-roses", giftEventId: randomUUID(), unitCost: 1, sentAt: "2026-03-01T00:00:00.000Z" }), // 102 coins → 51: +1
      gift({ hostId: "m-split", unitCost: 1, sentAt: "2026-03-01T00:00:00.000Z" }), // 8 coins at 70% → 5: +1, in the override's period
      gift({ hostId: "m-split", unitCost: 1, sentAt: "2026-01-31T00:00:00.000Z" }), // 16 coins at 50% → 8: +1, credited late, in the default period
    ]);
    await c.drain();
    const added = await ds.query(`SELECT host_id, share_bps, diamonds::int FROM earnings.gift_credits WHERE event_position <> 'old' ORDER BY host_id, share_bps`);
    expect(added).toEqual([
      { host_id: "m-roses", share_bps: 5000, diamonds: 1 },
      { host_id: "m-split", share_bps: 5000, diamonds: 1 },
      { host_id: "m-split", share_bps: 7000, diamonds: 1 },
    ]);
    expect(Number((await one(ds, `SELECT count(*) AS n FROM earnings.diamond_carry WHERE host_id = 'm-split'`)).n)).toBe(2);
    expect(await creator("m-roses")).toEqual({ diamonds: 51, lifetime: 51, ledger: 51 });
    expect(await creator("m-split")).toEqual({ diamonds: 13, lifetime: 13, ledger: 13 });
    expect(await diamondRuleViolations((sql, p) => ds.query(sql, p))).toEqual([]);
  });
});
