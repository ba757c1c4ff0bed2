import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import type { AuthUser } from "../../platform/auth.js";
import { CreatorService } from "../../subgraphs/earnings/domain/creators.js";
import { GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { PayoutService, SandboxPayoutProvider, type PayoutProvider } from "../../subgraphs/earnings/domain/payouts.js";
import { LiveSessionService } from "../../subgraphs/earnings/domain/sessions.js";
import { RevenueShareService } from "../../subgraphs/earnings/domain/shares.js";
import { StatementService, monthRange, statementCsv } from "../../subgraphs/earnings/domain/statements.js";
import { createTestDatabase } from "../support/db.js";
import { earningsDataSource, gift, one, produce } from "./support.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;
let consumer: GiftCreditConsumer;
let statements: StatementService;

beforeAll(async () => {
  db = await createTestDatabase("statements");
  ({ ds } = await earningsDataSource(db.url, 6));
  consumer = new GiftCreditConsumer(ds);
  await consumer.consumer.ensure();
  statements = new StatementService(ds);
});
afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

const host = (id: string): AuthUser => ({ id, name: `Host ${id}`, roles: ["viewer", "host"], region: "US", adult: true, exp: undefined });
const admin: AuthUser = { id: "ops", name: "Ops", roles: ["admin"], region: "US", adult: true, exp: undefined };
const thisMonth = () => new Date().toISOString().slice(0, 7);

/** The month's sums straight from the diamonds ledger, by entry type. */
async function ledgerSums(creatorId: string, month: string) {
  const { from, until } = monthRange(month);
  const rows = await ds.query(
    `SELECT type, sum(amount)::bigint AS s FROM earnings.diamond_ledger WHERE creator_id = $1 AND created_at >= $2 AND created_at < $3 GROUP BY type`,
    [creatorId, from, until],
  );
  const by = Object.fromEntries(rows.map((r: any) => [r.type, Number(r.s)]));
  const [{ before }] = await ds.query(`SELECT coalesce(sum(amount), 0)::bigint AS before FROM earnings.diamond_ledger WHERE creator_id = $1 AND created_at < $2`, [creatorId, from]);
  return { GIFTS: by.GIFTS ?? 0, PAYOUT_RESERVED: by.PAYOUT_RESERVED ?? 0, PAYOUT_RETURNED: by.PAYOUT_RETURNED ?? 0, ADJUSTMENT: by.ADJUSTMENT ?? 0, before: Number(before) };
}

describe("earnings statements", () => {
  it("split diamonds by source (live sessions, videos) and share, and every figure reconciles with the diamonds ledger", async () => {
    const c = "st-main";
    const sessions = new LiveSessionService(ds, new CreatorService(ds));
    const live = await sessions.start(host(c), "evening");
    await produce(ds, [
      gift({ hostId: c, liveSessionId: live.id, unitCost: 299, quantity: 3 }), // 897 coins → 448
      gift({ hostId: c, liveSessionId: live.id, unitCost: 1, quantity: 5 }), // 5 → 3 (with the half carried from the 897: floor(902 / 2) − 448)
      gift({ hostId: c, unitCost: 30_000, quantity: 1 }), // a video gift: 15,000
    ]);
    await consumer.drain();
    await new RevenueShareService(ds).set(admin, c, 7000, null, "partner tier");
    await produce(ds, [gift({ hostId: c, unitCost: 10_001, quantity: 1, sentAt: new Date(Date.now() + 1000).toISOString() })]); // 7,000 (floor 7000.7)
    await consumer.drain();

    // A paid payout with a provider fee, and a failed one (.13) whose diamonds came back.
    const bank = new SandboxPayoutProvider();
    const withFee: PayoutProvider = { name: "sandbox", submit: async (i) => ({ ...(await bank.submit(i)), feeMinor: 25 }) };
    const payouts = new PayoutService(ds, new CreatorService(ds), withFee);
    await payouts.request(host(c), 10_000, "st-1");
    await payouts.request(host(c), 10_026, "st-2"); // $50.13 fails
    await payouts.processDue(100);

    const s = await statements.statement(c, thisMonth());
    expect(s.liveSessions).toEqual({ gifts: 8, coins: 902, diamonds: 451 });
    expect(s.videos).toEqual({ gifts: 2, coins: 40_001, diamonds: 22_000 });
    expect(s.shares).toEqual([
      { shareBps: 5000, coins: 30_902, diamonds: 15_451 },
      { shareBps: 7000, coins: 10_001, diamonds: 7_000 },
    ]);
    expect(s.payoutsPaid).toEqual({ count: 1, diamonds: 10_000, amountMinor: 5000, feesMinor: 25, currency: "USD" });
    expect(s.pendingPayoutDiamonds).toBe(0);

    // The sums, against the ledger itself.
    const l = await ledgerSums(c, thisMonth());
    expect(s.liveSessions.diamonds + s.videos.diamonds + s.roundingDiamonds).toBe(l.GIFTS);
    expect(s.earnedDiamonds).toBe(l.GIFTS);
    expect(s.roundingDiamonds).toBe(0);
    expect(s.reservedDiamonds).toBe(-l.PAYOUT_RESERVED);
    expect(s.returnedDiamonds).toBe(l.PAYOUT_RETURNED);
    expect(s.openingDiamonds).toBe(l.before);
    expect(s.openingDiamonds + s.earnedDiamonds - s.reservedDiamonds + s.returnedDiamonds + s.adjustmentDiamonds).toBe(s.closingDiamonds);
    const { diamonds } = await one(ds, `SELECT diamonds::int FROM earnings.creators WHERE id = $1`, [c]);
    expect(s.closingDiamonds).toBe(diamonds);
    expect(s.closingDiamonds).toBe(451 + 22_000 - 10_000);
  });

  it("a month carries its closing balance into the next: the previous month's entries are opening, not earned", async () => {
    const c = "st-carry";
    await produce(ds, [gift({ hostId: c, unitCost: 4_000 })]);
    await consumer.drain();
    // Move this creator's history into last month, as if it had happened then (the ledger is append-only: copy with older timestamps).
    const prev = new Date();
    prev.setUTCDate(1);
    prev.setUTCMonth(prev.getUTCMonth() - 1);
    const lastMonth = prev.toISOString().slice(0, 7);
    await ds.query(`INSERT INTO earnings.creators (id, display_name) VALUES ('st-old', 'Old') ON CONFLICT DO NOTHING`);
    await ds.query(`UPDATE earnings.creators SET diamonds = 1234 WHERE id = 'st-old'`);
    await ds.query(`INSERT INTO earnings.diamond_ledger (creator_id, type, amount, balance_after, reference, created_at) VALUES ('st-old', 'ADJUSTMENT', 1234, 1234, 'test', $1)`, [prev]);
    const before = await statements.statement("st-old", lastMonth);
    const now = await statements.statement("st-old", thisMonth());
    expect(before).toMatchObject({ complete: true, openingDiamonds: 0, adjustmentDiamonds: 1234, closingDiamonds: 1234 });
    expect(now).toMatchObject({ complete: false, openingDiamonds: 1234, earnedDiamonds: 0, closingDiamonds: 1234 });
    expect((await statements.statement(c, thisMonth())).earnedDiamonds).toBe(2_000);
  });

  it("refuses a malformed month, one before 2020, and one that has not started", async () => {
    expect(() => monthRange("2031-1")).toThrow(/YYYY-MM/);
    expect(() => monthRange("2031-13")).toThrow(/YYYY-MM/);
    expect(() => monthRange("2019-12")).toThrow(/2020-01/);
    expect(() => monthRange("2999-01")).toThrow(/not started/);
    expect(monthRange("2031-02", new Date("2031-03-01T00:00:00Z"))).toEqual({ from: new Date("2031-02-01T00:00:00Z"), until: new Date("2031-03-01T00:00:00Z"), complete: true });
  });

  it("exports CSV with one line per figure, integers only, and quotes a creator id that needs it", async () => {
    const s = await statements.statement("st-main", thisMonth());
    const csv = statementCsv({ ...s, creatorId: 'odd,"id"' });
    expect(csv.endsWith("\r\n")).toBe(true);
    const lines = csv.trimEnd().split("\r\n");
    expect(lines[1]).toBe(`creator,,,,,,"odd,""id"""`);
    const byLine = new Map(lines.slice(3).map((l) => [l.split(",")[0], l.split(",")]));
    expect(byLine.get("closing_balance")?.[4]).toBe(String(s.closingDiamonds));
    expect(byLine.get("earned_live_sessions")?.slice(1, 5)).toEqual(["8", "902", "", "451"]);
    expect(byLine.get("payout_fees")?.slice(5)).toEqual(["25", "USD"]);
    // The CSV's diamond lines sum to the closing balance, as the statement's do.
    const d = (k: string) => Number(byLine.get(k)?.[4] ?? 0);
    expect(d("opening_balance") + d("earned_live_sessions") + d("earned_videos") + d("earned_rounding") + d("reserved_for_payouts") + d("payouts_returned") + d("adjustments")).toBe(d("closing_balance"));
  });
});
