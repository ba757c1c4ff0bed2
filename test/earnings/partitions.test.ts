import "reflect-metadata";
import pg from "pg";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { createTestDatabase } from "../support/db.js";
import { until } from "../stream/helpers.js";
import { earningsDataSource, gift, one, produce } from "./support.js";

/**
 * The gift.sent consumer split by host into partitions, each claimed by one live instance:
 * three instances share the work, a killed one's partitions move to the survivors within
 * seconds, and every gift is credited exactly once, each host's gifts in order.
 */
const PARTITIONS = 8;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;
const started: { c: GiftCreditConsumer; ds: DataSource }[] = [];

beforeAll(async () => {
  db = await createTestDatabase("earnparts");
  ({ ds } = await earningsDataSource(db.url));
});
afterAll(async () => {
  for (const s of started) {
    await s.c.stop().catch(() => undefined);
    if (s.ds.isInitialized) await s.ds.destroy().catch(() => undefined);
  }
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

async function instance(): Promise<{ c: GiftCreditConsumer; ds: DataSource }> {
  const own = (await earningsDataSource(db.url, 3)).ds;
  const c = new GiftCreditConsumer(own, { batchSize: 40, idleMs: 50, partitions: PARTITIONS });
  await c.start();
  const s = { c, ds: own };
  started.push(s);
  return s;
}

const claimedByAll = (list: { c: GiftCreditConsumer }[]) => list.flatMap((s) => s.c.consumer.claimed).sort((a, b) => a - b);

describe("partitioned gift consumers", () => {
  it("three instances split the partitions between them, each partition held by exactly one", async () => {
    const three = [await instance(), await instance(), await instance()];
    await until(() => claimedByAll(three).length === PARTITIONS && three.every((s) => s.c.consumer.claimed.length >= 2), "a balanced split", 10_000);
    expect(claimedByAll(three)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    for (const s of three) expect(s.c.consumer.claimed.length).toBeLessThanOrEqual(Math.ceil(PARTITIONS / 3));
  });

  it("credits every gift exactly once, in order per host, when one of three instances is killed mid-batch", async () => {
    const [a, b, victim] = started;
    const hosts = Array.from({ length: 24 }, (_, i) => `ph-${i}`);
    const gifts = hosts.flatMap((hostId, h) => Array.from({ length: 25 }, (_, i) => gift({ hostId, senderId: `pv-${i % 7}`, unitCost: 1 + ((h + i) % 9) })));
    const expected = new Map<string, number>();
    for (const g of gifts) expected.set(g.hostId, (expected.get(g.hostId) ?? 0) + g.coins);

    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    let killed = false;
    victim.c.hooks.beforeCommit = async (m) => {
      if (killed) return;
      killed = true;
      // The victim has written a whole batch and dies before COMMIT: its pool connection and its claims go.
      const [{ pid }] = await m.query(`SELECT pg_backend_pid() AS pid`);
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 OR pid = $2`, [
        `claims:earnings:earnings-gift-credits:${victim.c.consumer.instanceId}`,
        pid,
      ]);
      void victim.c.stop();
    };
    for (let i = 0; i < gifts.length; i += 100) await produce(ds, gifts.slice(i, i + 100));

    await until(async () => Number((await one(ds, `SELECT count(*) AS n FROM earnings.gift_credits`)).n) >= gifts.length, "every gift credited", 30_000);
    expect(killed).toBe(true);
    // The survivors took the victim's partitions.
    await until(() => claimedByAll([a, b]).length === PARTITIONS, "the survivors to hold every partition", 10_000);
    expect(claimedByAll([a, b])).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);

    expect(Number((await one(ds, `SELECT count(*) AS n FROM earnings.gift_credits`)).n)).toBe(gifts.length);
    expect(Number((await one(ds, `SELECT count(*) AS n FROM earnings.gift_feed WHERE kind = 'gift'`)).n)).toBe(gifts.length);
    for (const host of hosts) {
      const c = await one(ds, `SELECT coins_received AS coins, gifts_received AS gifts, diamonds FROM earnings.creators WHERE id = $1`, [host]);
      expect({ host, coins: Number(c.coins), gifts: Number(c.gifts) }).toEqual({ host, coins: expected.get(host), gifts: 25 });
      const ledger = Number((await one(ds, `SELECT coalesce(sum(amount), 0) AS s FROM earnings.diamond_ledger WHERE creator_id = $1`, [host])).s);
      expect(ledger).toBe(Number(c.diamonds));
      // One host's gifts reach its feed in the order they were sent.
      const order = (await ds.query(`SELECT id FROM earnings.gift_feed WHERE host_id = $1 AND kind = 'gift' ORDER BY seq`, [host])).map((r: { id: string }) => r.id);
      expect(order).toEqual(gifts.filter((g) => g.hostId === host).map((g) => g.giftEventId));
    }
    await admin.end();
  });

  it("reports its lag over every partition", async () => {
    const [a] = started;
    const status = await a.c.status();
    expect(status).toMatchObject({ partitions: PARTITIONS, pendingEvents: 0, oldestPendingAt: null });
  });
});
