import "reflect-metadata";
import type { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GIFT_CREDIT_CONSUMER, GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { createTestDatabase } from "../support/db.js";
import { earningsDataSource, gift, one, produce } from "./support.js";

/**
 * A poll scans the log from the oldest position it holds. With one hot host, the other partitions
 * get no events; their positions must still follow the log, or every poll rescans everything since
 * their last event (platform/eventlog.ts IDLE_ADVANCE_MS).
 */
const PARTITIONS = 8;
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;

beforeAll(async () => {
  db = await createTestDatabase("earnidle");
  ({ ds } = await earningsDataSource(db.url));
});
afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

/** Events a poll over every partition would scan again although every one of them was applied. */
async function rescanned(): Promise<number> {
  const row = await one(
    ds,
    `SELECT count(*)::int AS n FROM eventlog.events e
      WHERE (e.tx, e.id) > (SELECT tx, id FROM earnings.consumer_positions WHERE consumer LIKE $1 ORDER BY tx, id LIMIT 1)`,
    [`${GIFT_CREDIT_CONSUMER}#%/${PARTITIONS}`],
  );
  return row.n;
}

describe("idle partitions", () => {
  it("move up with the log when one host gets every gift, so the next poll rescans nothing already credited", async () => {
    const c = new GiftCreditConsumer(ds, { batchSize: 500, partitions: PARTITIONS });
    await c.consumer.ensure();
    await produce(ds, Array.from({ length: 60 }, (_, i) => gift({ hostId: "hot-host", senderId: `iv-${i % 5}` })));
    expect(await rescanned()).toBe(60);

    expect(await c.drain()).toBe(60);
    expect(await rescanned()).toBe(0);
    const credited = await one(ds, `SELECT count(*)::int AS n FROM earnings.gift_credits`);
    expect(credited.n).toBe(60);
  });
});
