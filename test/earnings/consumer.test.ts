import "reflect-metadata";
import fc from "fast-check";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import { GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { createTestDatabase } from "../support/db.js";
import { earningsDataSource, gift, one, produce } from "./support.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;
let queries: Awaited<ReturnType<typeof earningsDataSource>>["queries"];

beforeAll(async () => {
  db = await createTestDatabase("earncons");
  ({ ds, queries } = await earningsDataSource(db.url));
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

const balance = async (host: string) =>
  one<{ diamonds: string; lifetime: string; gifts: string; coins: string }>(
    ds,
    `SELECT diamonds, lifetime_diamonds AS lifetime, gifts_received AS gifts, coins_received AS coins FROM earnings.creators WHERE id = $1`,
    [host],
  ).then((r) => (r ? { diamonds: Number(r.diamonds), lifetime: Number(r.lifetime), gifts: Number(r.gifts), coins: Number(r.coins) } : null));

const ledgerSum = async (host: string) => Number((await one(ds, `SELECT coalesce(sum(amount), 0) AS s FROM earnings.diamond_ledger WHERE creator_id = $1`, [host])).s);

describe("the gift.sent consumer", () => {
  it("credits floor(Σ coins × 50%) by default, carrying each gift's remainder to the next, with a ledger entry that explains the balance", async () => {
    const c = await consumer();
    // 7 coins → 3 diamonds (3.5: the half is carried), the next 7 → 4: 7 = floor(14 × 50%), not 3 + 3.
    await produce(ds, [gift({ hostId: "h-floor", unitCost: 7 }), gift({ hostId: "h-floor", unitCost: 7 }), gift({ hostId: "h-floor", unitCost: 100, quantity: 3 })]);
    await c.drain();
    expect(await balance("h-floor")).toEqual({ diamonds: 157, lifetime: 157, gifts: 5, coins: 314 });
    const perGift = await ds.query(`SELECT diamonds FROM earnings.gift_credits WHERE host_id = 'h-floor' ORDER BY event_position`);
    expect(perGift.map((r: any) => Number(r.diamonds))).toEqual([3, 4, 150]);
    expect(await ledgerSum("h-floor")).toBe(157);
    const [last] = await ds.query(`SELECT balance_after FROM earnings.diamond_ledger WHERE creator_id = 'h-floor' ORDER BY id DESC LIMIT 1`);
    expect(Number(last.balance_after)).toBe(157);
  });

  it("puts exactly the credited gifts on the live feed, in the same transaction", async () => {
    const c = await consumer();
    const g = gift({ hostId: "h-feed", unitCost: 5, quantity: 2 });
    await produce(ds, [g]);
    await c.drain();
    const rows = await ds.query(`SELECT id, coins, diamonds FROM earnings.gift_feed WHERE host_id = 'h-feed' AND kind = 'gift'`);
    expect(rows).toEqual([{ id: g.giftEventId, coins: "10", diamonds: "5" }]);
  });

  it("uses the revenue share in force when the gift was sent, not when it is credited", async () => {
    const c = await consumer();
    await ds.query(`INSERT INTO earnings.creators (id, display_name) VALUES ('h-share', 'Share Host')`);
    const t1 = new Date("2026-01-10T00:00:00Z");
    const t2 = new Date("2026-02-10T00:00:00Z");
    await ds.query(
      `INSERT INTO earnings.revenue_shares (creator_id, effective_from, share_bps, set_by) VALUES ('h-share', $1, 7000, 'admin'), ('h-share', $2, 3333, 'admin')`,
      [t1, t2],
    );
    const at = (iso: string) => gift({ hostId: "h-share", unitCost: 101, sentAt: iso });
    // All three are credited in one batch after both overrides exist.
    await produce(ds, [at("2026-01-09T23:59:59.999Z"), at("2026-01-10T00:00:00.000Z"), at("2026-02-10T00:00:00.001Z")]);
    await c.drain();
    const credits = await ds.query(`SELECT share_bps, diamonds FROM earnings.gift_credits WHERE host_id = 'h-share' ORDER BY sent_at`);
    expect(credits.map((r: any) => [r.share_bps, Number(r.diamonds)])).toEqual([
      [5000, 50], // floor(101 × 0.5)
      [7000, 70], // floor(101 × 0.7)
      [3333, 33], // floor(101 × 0.3333)
    ]);
    expect((await balance("h-share"))!.diamonds).toBe(153);
  });

  it("batches per host: one balance update and one ledger entry per host per batch, and a statement count independent of the batch size", async () => {
    const c = await consumer();
    const hosts = ["h-b1", "h-b2", "h-b3"];
    const run = async (n: number) => {
      await produce(ds, Array.from({ length: n }, (_, i) => gift({ hostId: hosts[i % 3], senderId: `s-${i % 7}`, unitCost: 2 })));
      queries.reset();
      const applied = await c.consumer.pollOnce();
      expect(applied).toBe(n);
      return queries.count;
    };
    const small = await run(30);
    const large = await run(300);
    expect(large).toBe(small);
    // The 300-gift batch: one GIFTS ledger entry per host, each the sum of that host's 100 credits.
    const entries = await ds.query(
      `SELECT creator_id, amount FROM earnings.diamond_ledger WHERE creator_id = ANY($1) ORDER BY id DESC LIMIT 3`,
      [hosts],
    );
    expect(entries.map((e: any) => Number(e.amount))).toEqual([100, 100, 100]);
    expect(new Set(entries.map((e: any) => e.creator_id))).toEqual(new Set(hosts));
    for (const h of hosts) expect((await balance(h))!.diamonds).toBe(110);
  });

  it("applies a re-delivered event once: rewinding the read position credits nothing twice", async () => {
    const c = await consumer();
    await produce(ds, Array.from({ length: 20 }, () => gift({ hostId: "h-redeliver", unitCost: 3 })));
    await c.drain();
    const before = await balance("h-redeliver");
    await ds.query(`UPDATE earnings.consumer_positions SET tx = '0', id = 0 WHERE consumer LIKE 'earnings-gift-credits%'`);
    const duplicatesBefore = c.totals.duplicates;
    await c.drain();
    expect(await balance("h-redeliver")).toEqual(before);
    expect(c.totals.duplicates - duplicatesBefore).toBeGreaterThanOrEqual(20);
    expect(await ledgerSum("h-redeliver")).toBe(before!.diamonds);
  });

  it("survives being killed mid-batch: the connection dies before commit, a restarted consumer (with re-delivery) ends with exact totals", async () => {
    const host = "h-kill";
    const gifts = Array.from({ length: 200 }, (_, i) => gift({ hostId: host, senderId: `k-${i % 13}`, unitCost: 1 + (i % 9) }));
    const expected = Math.floor(gifts.reduce((s, g) => s + g.coins, 0) / 2); // floor(Σ coins × 50%)
    await produce(ds, gifts);

    const victim = await earningsDataSource(db.url, 2);
    const c1 = await consumer(victim.ds, 50);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    let batches = 0;
    c1.hooks.beforeCommit = async (m) => {
      if (++batches < 3) return;
      // The third batch has written everything; the process "dies" before COMMIT.
      const [{ pid }] = await m.query(`SELECT pg_backend_pid() AS pid`);
      await admin.query(`SELECT pg_terminate_backend($1)`, [pid]);
    };
    await expect(c1.drain()).rejects.toThrow();
    await admin.end();
    await victim.ds.destroy().catch(() => undefined);
    // Two batches committed, the third left nothing behind.
    expect((await balance(host))!.gifts).toBe(100);

    const restarted = await consumer(ds, 50);
    await restarted.drain();
    // A broker may re-deliver from an older position: still exact.
    await ds.query(`UPDATE earnings.consumer_positions SET tx = '0', id = 0 WHERE consumer LIKE 'earnings-gift-credits%'`);
    await restarted.drain();
    const b = await balance(host);
    expect(b).toMatchObject({ diamonds: expected, lifetime: expected, gifts: 200 });
    expect(await ledgerSum(host)).toBe(expected);
    expect(Number((await one(ds, `SELECT count(*) AS n FROM earnings.gift_feed WHERE host_id = $1 AND kind = 'gift'`, [host])).n)).toBe(200);
  });

  it("two consumer instances draining at once credit every gift exactly once", async () => {
    const gifts = Array.from({ length: 300 }, (_, i) => gift({ hostId: `h-par-${i % 4}`, unitCost: 4 }));
    await produce(ds, gifts);
    const other = await earningsDataSource(db.url, 2);
    const [a, b] = [await consumer(ds, 40), await consumer(other.ds, 40)];
    await Promise.all([a.drain(), b.drain(), a.drain(), b.drain()]);
    await a.drain();
    await other.ds.destroy();
    for (let h = 0; h < 4; h++) expect((await balance(`h-par-${h}`))!.diamonds).toBe(75 * 2);
  });

  it("parks a malformed event for operators and keeps crediting the gifts behind it", async () => {
    const c = await consumer();
    const bad = { ...gift({ hostId: "h-bad" }), coins: 999 }; // coins ≠ unitCost × quantity
    const huge = gift({ hostId: "h-bad", unitCost: 1, quantity: 2 ** 31 }); // the database column would refuse it
    const good = gift({ hostId: "h-bad", unitCost: 10 });
    await produce(ds, [bad, huge, good]);
    await c.drain();
    expect((await balance("h-bad"))!.diamonds).toBe(5);
    const parked = await ds.query(`SELECT payload->>'giftEventId' AS id, reason FROM earnings.rejected_events WHERE payload->>'hostId' = 'h-bad' ORDER BY position`);
    expect(parked).toEqual([
      { id: bad.giftEventId, reason: expect.stringMatching(/coins/) },
      { id: huge.giftEventId, reason: expect.stringMatching(/quantity/) },
    ]);
  });

  it("never credits a session that is not the host's, but the gift still earns", async () => {
    const c = await consumer();
    await ds.query(`INSERT INTO earnings.creators (id, display_name) VALUES ('h-sess-owner', 'Owner'), ('h-sess-other', 'Other') ON CONFLICT DO NOTHING`);
    const [s] = await ds.query(`INSERT INTO earnings.live_sessions (host_id, title) VALUES ('h-sess-owner', 'mine') RETURNING id`);
    await produce(ds, [gift({ hostId: "h-sess-other", liveSessionId: s.id, unitCost: 10 })]);
    await c.drain();
    expect((await balance("h-sess-other"))!.diamonds).toBe(5);
    const [session] = await ds.query(`SELECT gift_count FROM earnings.live_sessions WHERE id = $1`, [s.id]);
    expect(Number(session.gift_count)).toBe(0);
  });
});

describe("leaderboards and session totals", () => {
  it("equal a recomputation from the credited gifts after a randomized run (many hosts, senders, sessions, days, re-deliveries)", async () => {
    await ds.query(`INSERT INTO earnings.creators (id, display_name) SELECT 'lb-' || i, 'LB ' || i FROM generate_series(0, 3) i ON CONFLICT DO NOTHING`);
    const sessions: { id: string; host: string }[] = [];
    for (let i = 0; i < 4; i++) {
      const [s] = await ds.query(`INSERT INTO earnings.live_sessions (host_id, title) VALUES ($1, 'show') RETURNING id`, [`lb-${i}`]);
      sessions.push({ id: s.id, host: `lb-${i}` });
    }
    const giftArb = fc.record({
      host: fc.integer({ min: 0, max: 3 }),
      sender: fc.integer({ min: 0, max: 9 }),
      unitCost: fc.integer({ min: 1, max: 44999 }),
      quantity: fc.integer({ min: 1, max: 99 }),
      inSession: fc.boolean(),
      // Spread over ~70 days so days, weeks and months all roll over.
      minutes: fc.integer({ min: 0, max: 100_000 }),
    });
    const samples = fc.sample(fc.array(giftArb, { minLength: 150, maxLength: 150 }), { numRuns: 1, seed: 42 })[0];
    const base = Date.parse("2026-01-01T00:00:00Z");
    const gifts = samples.map((g) =>
      gift({
        hostId: `lb-${g.host}`,
        senderId: `fan-${g.sender}`,
        unitCost: g.unitCost,
        quantity: g.quantity,
        liveSessionId: g.inSession ? sessions[g.host].id : null,
        sentAt: new Date(base + g.minutes * 60_000).toISOString(),
      }),
    );
    await produce(ds, gifts.slice(0, 100));
    const c = await consumer(ds, 17);
    await c.drain();
    await produce(ds, [...gifts.slice(100), ...gifts.slice(0, 10)]); // the last ten are retries of earlier events
    await c.drain();

    const recomputed = await ds.query(`
      WITH scoped AS (
        SELECT host_id, sender_id, coins, quantity, diamonds, sent_at, unnest(ARRAY[
          'ALL',
          'D:' || to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'),
          'W:' || to_char(date_trunc('week', sent_at AT TIME ZONE 'UTC'), 'YYYY-MM-DD'),
          'M:' || to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM')
        ] || CASE WHEN live_session_id IS NULL THEN ARRAY[]::text[] ELSE ARRAY['S:' || live_session_id] END) AS scope
        FROM earnings.gift_credits WHERE host_id LIKE 'lb-%')
      SELECT host_id, scope, sender_id, sum(coins)::bigint AS coins, sum(quantity)::bigint AS gifts, sum(diamonds)::bigint AS diamonds, max(sent_at) AS last
        FROM scoped GROUP BY 1, 2, 3 ORDER BY 1, 2, 3`);
    const maintained = await ds.query(
      `SELECT host_id, scope, sender_id, coins, gifts, diamonds, last_gift_at AS last FROM earnings.gifter_totals WHERE host_id LIKE 'lb-%' ORDER BY 1, 2, 3`,
    );
    expect(recomputed.length).toBeGreaterThan(100);
    expect(maintained).toEqual(recomputed);

    const sessionTotals = await ds.query(`
      SELECT s.id, s.gift_count, s.coins_received, s.diamonds_earned, s.unique_gifters,
             coalesce(sum(g.quantity), 0)::bigint AS g, coalesce(sum(g.coins), 0)::bigint AS c, coalesce(sum(g.diamonds), 0)::bigint AS d,
             count(DISTINCT g.sender_id)::int AS u
        FROM earnings.live_sessions s LEFT JOIN earnings.gift_credits g ON g.live_session_id = s.id
       WHERE s.host_id LIKE 'lb-%' GROUP BY s.id`);
    for (const s of sessionTotals) {
      expect([s.gift_count, s.coins_received, s.diamonds_earned, s.unique_gifters]).toEqual([s.g, s.c, s.d, s.u]);
    }
    // And the diamond invariant: balance = floor(Σ coins × share) (one share period each) = Σ ledger.
    for (let i = 0; i < 4; i++) {
      const expected = Math.floor(gifts.filter((g) => g.hostId === `lb-${i}`).reduce((s, g) => s + g.coins, 0) / 2);
      expect((await balance(`lb-${i}`))!.lifetime).toBe(expected);
      expect(await ledgerSum(`lb-${i}`)).toBe(expected);
    }
  });
});
