import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import type { AuthUser } from "../../platform/auth.js";
import { DomainError, ErrorCode } from "../../platform/errors.js";
import { MONEY_MUTATION_LIMITS, MoneyRateLimiter } from "../../platform/money-rate-limit.js";
import { CreatorService } from "../../subgraphs/earnings/domain/creators.js";
import { GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { PayoutService, SandboxPayoutProvider, type PayoutOutcome, type PayoutProvider } from "../../subgraphs/earnings/domain/payouts.js";
import { createTestDatabase } from "../support/db.js";
import { earningsDataSource, gift, one, produce } from "./support.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;
let consumer: GiftCreditConsumer;
let provider: SandboxPayoutProvider;
let payouts: PayoutService;

beforeAll(async () => {
  db = await createTestDatabase("earnpay");
  ({ ds } = await earningsDataSource(db.url, 12));
  consumer = new GiftCreditConsumer(ds);
  await consumer.consumer.ensure();
  provider = new SandboxPayoutProvider();
  // Balance, idempotency and daily-cap rules; the per-user burst guard is tested in test/hardening/money-guards.test.ts.
  payouts = new PayoutService(ds, new CreatorService(ds), provider, generousLimiter());
});
afterAll(async () => {
  if (ds?.isInitialized) await ds.destroy();
  await db?.drop();
});

const generousLimiter = () => new MoneyRateLimiter("earnings", { ...MONEY_MUTATION_LIMITS, requestPayout: { capacity: 100_000, refillPerSecond: 100_000 } });
const host = (id: string): AuthUser => ({ id, name: `Host ${id}`, roles: ["viewer", "host"], region: "US", adult: true, exp: undefined });

/** Earns `diamonds` the real way: a gift.sent event worth twice as many coins, credited by the consumer at 50%. */
async function earn(hostId: string, diamonds: number): Promise<void> {
  await produce(ds, [gift({ hostId, unitCost: diamonds * 2, quantity: 1 })]);
  await consumer.drain();
}

const balance = async (id: string) => Number((await one(ds, `SELECT diamonds FROM earnings.creators WHERE id = $1`, [id])).diamonds);
const ledger = async (id: string) => Number((await one(ds, `SELECT coalesce(sum(amount), 0) AS s FROM earnings.diamond_ledger WHERE creator_id = $1`, [id])).s);

async function failure(p: Promise<unknown>): Promise<DomainError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DomainError) return e;
    throw e;
  }
  throw new Error("expected a business failure");
}

describe("requestPayout", () => {
  it("reserves the diamonds at request and values them at 0.005 USD each in integer cents", async () => {
    await earn("p-basic", 12_000);
    const { payout } = await payouts.request(host("p-basic"), 10_000, "k-basic");
    expect(payout).toMatchObject({ creatorId: "p-basic", diamonds: 10_000, amountMinor: 5000, currency: "USD", status: "REQUESTED" });
    expect(await balance("p-basic")).toBe(2_000);
    expect(await ledger("p-basic")).toBe(2_000);
  });

  it("refuses less than 10,000 diamonds with BELOW_MINIMUM and changes nothing", async () => {
    await earn("p-min", 20_000);
    const e = await failure(payouts.request(host("p-min"), 9_998, "k-min"));
    expect(e.code).toBe(ErrorCode.BELOW_MINIMUM);
    expect(await balance("p-min")).toBe(20_000);
    expect(Number((await one(ds, `SELECT count(*) AS n FROM earnings.idempotency_keys WHERE user_id = 'p-min'`)).n)).toBe(0);
  });

  it("refuses more than the balance with INSUFFICIENT_DIAMONDS, the balance and the shortfall", async () => {
    await earn("p-over", 15_000);
    const e = await failure(payouts.request(host("p-over"), 20_000, "k-over"));
    expect(e.code).toBe(ErrorCode.INSUFFICIENT_DIAMONDS);
    expect(e.extra).toMatchObject({ balance: 15_000, shortfall: 5_000 });
    expect(await balance("p-over")).toBe(15_000);
  });

  it("refuses an odd number of diamonds (not whole cents) with INVALID_INPUT", async () => {
    await earn("p-odd", 20_000);
    expect((await failure(payouts.request(host("p-odd"), 10_001, "k-odd"))).code).toBe(ErrorCode.INVALID_INPUT);
  });

  it("reserves only what fits when concurrent requests exceed the balance", async () => {
    await earn("p-race", 50_000);
    const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => payouts.request(host("p-race"), 10_000, `k-race-${i}`)));
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r) => r.status === "rejected").map((r) => (r as PromiseRejectedResult).reason);
    expect(ok).toHaveLength(5);
    expect(refused.every((e) => e instanceof DomainError && e.code === ErrorCode.INSUFFICIENT_DIAMONDS)).toBe(true);
    expect(await balance("p-race")).toBe(0);
    expect(await ledger("p-race")).toBe(0);
    expect(Number((await one(ds, `SELECT count(*) AS n FROM earnings.payouts WHERE creator_id = 'p-race'`)).n)).toBe(5);
  });

  it("returns the original payout for retries with the same key, also when they arrive at once: one payout, one debit", async () => {
    await earn("p-retry", 30_000);
    const results = await Promise.all(Array.from({ length: 10 }, () => payouts.request(host("p-retry"), 10_000, "k-retry")));
    expect(new Set(results.map((r) => r.payout.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    for (const r of results) expect(r.payout).toEqual(results[0].payout);
    expect(await balance("p-retry")).toBe(20_000);
    const e = await failure(payouts.request(host("p-retry"), 12_000, "k-retry"));
    expect(e.code).toBe(ErrorCode.IDEMPOTENCY_KEY_REUSED);
  });

  it("enforces the daily maximum (2,000,000 diamonds per UTC day); failed payouts do not count", async () => {
    await earn("p-daily", 2_100_000);
    await payouts.request(host("p-daily"), 1_990_000, "k-d1");
    const e = await failure(payouts.request(host("p-daily"), 20_000, "k-d2"));
    expect(e.code).toBe(ErrorCode.LIMIT_EXCEEDED);
    expect(e.extra.retryAfterSeconds).toBeGreaterThan(0);
    expect(await balance("p-daily")).toBe(110_000);
    await payouts.request(host("p-daily"), 10_000, "k-d3");
  });
});

describe("the payout lifecycle", () => {
  it("REQUESTED → PROCESSING → PAID through the sandbox provider; the diamonds stay spent", async () => {
    await earn("p-paid", 10_000);
    const { payout } = await payouts.request(host("p-paid"), 10_000, "k-paid");
    const processed = await payouts.processDue(1000);
    const mine = processed.find((p) => p.id === payout.id)!;
    expect(mine).toMatchObject({ status: "PAID", failureReason: null });
    expect(mine.providerRef).toMatch(/^sbx_po_/);
    expect(await balance("p-paid")).toBe(0);
    expect(await ledger("p-paid")).toBe(0);
  });

  it("FAILED returns the diamonds with a ledger entry (sandbox: amounts ending in .13 fail)", async () => {
    await earn("p-fail", 10_026);
    const { payout } = await payouts.request(host("p-fail"), 10_026, "k-fail"); // 5013 cents = $50.13
    expect(await balance("p-fail")).toBe(0);
    const mine = (await payouts.processDue(1000)).find((p) => p.id === payout.id)!;
    expect(mine.status).toBe("FAILED");
    expect(mine.failureReason).toMatch(/closed/);
    expect(await balance("p-fail")).toBe(10_026);
    expect(await ledger("p-fail")).toBe(10_026);
    const types = await ds.query(`SELECT type, amount FROM earnings.diamond_ledger WHERE creator_id = 'p-fail' ORDER BY id`);
    expect(types.map((t: any) => [t.type, Number(t.amount)])).toEqual([["GIFTS", 10_026], ["PAYOUT_RESERVED", -10_026], ["PAYOUT_RETURNED", 10_026]]);
  });

  it("cancelPayout while REQUESTED returns the diamonds once; cancelling again returns the canceled payout; a paid one cannot be canceled", async () => {
    await earn("p-cancel", 20_000);
    const { payout } = await payouts.request(host("p-cancel"), 10_000, "k-c1");
    const [a, b] = await Promise.all([payouts.cancel(host("p-cancel"), payout.id), payouts.cancel(host("p-cancel"), payout.id)]);
    expect([a.status, b.status]).toEqual(["CANCELED", "CANCELED"]);
    expect(await balance("p-cancel")).toBe(20_000);
    expect(await ledger("p-cancel")).toBe(20_000);

    const { payout: second } = await payouts.request(host("p-cancel"), 10_000, "k-c2");
    await payouts.processDue(1000);
    expect((await failure(payouts.cancel(host("p-cancel"), second.id))).code).toBe(ErrorCode.INVALID_STATE);
    // Someone else's payout looks like no payout.
    expect((await failure(payouts.cancel(host("p-stranger"), second.id))).code).toBe(ErrorCode.NOT_FOUND);
  });

  it("a cancel racing the processor: exactly one wins and the diamonds come back at most once", async () => {
    await earn("p-cancelrace", 10_000);
    const { payout } = await payouts.request(host("p-cancelrace"), 10_000, "k-cr");
    const [cancel] = await Promise.allSettled([payouts.cancel(host("p-cancelrace"), payout.id), payouts.processDue(1000)]);
    const [final] = await payouts.byIds([payout.id]);
    if (cancel.status === "fulfilled" && cancel.value.status === "CANCELED") {
      expect(final!.status).toBe("CANCELED");
      expect(await balance("p-cancelrace")).toBe(10_000);
    } else {
      expect(final!.status).toBe("PAID");
      expect(await balance("p-cancelrace")).toBe(0);
    }
    expect(await ledger("p-cancelrace")).toBe(await balance("p-cancelrace"));
  });

  it("a payout whose submission crashed stays PROCESSING and is resubmitted idempotently, never paid twice", async () => {
    await earn("p-crash", 10_000);
    let calls = 0;
    const flaky: PayoutProvider = {
      name: "flaky",
      async submit(i): Promise<PayoutOutcome> {
        if (++calls === 1) throw new Error("connection reset");
        return provider.submit(i);
      },
    };
    const service = new PayoutService(ds, new CreatorService(ds), flaky, generousLimiter());
    const { payout } = await service.request(host("p-crash"), 10_000, "k-crash");
    const first = (await service.processDue(1000)).find((p) => p.id === payout.id)!;
    expect(first.status).toBe("PROCESSING");
    // A retry is planned with a backoff (DECISIONS 50): until it is due the payout is left alone, even by a sweep with stuckAfterMs 0.
    expect((await service.processDue(1000)).find((p) => p.id === payout.id)).toBeUndefined();
    expect((await service.processDue(1000, 0)).find((p) => p.id === payout.id)).toBeUndefined();
    await ds.query(`UPDATE earnings.payouts SET next_attempt_at = now() WHERE id = $1`, [payout.id]);
    const retried = (await service.processDue(1000, 0)).find((p) => p.id === payout.id)!;
    expect(retried.status).toBe("PAID");
    expect((await service.processDue(1000, 0)).find((p) => p.id === payout.id)).toBeUndefined();
    expect(await balance("p-crash")).toBe(0);
  });

  it("keeps every creator's balance equal to the sum of their ledger entries", async () => {
    const drift = await ds.query(`
      SELECT c.id, c.diamonds, coalesce(sum(l.amount), 0) AS ledger FROM earnings.creators c
        LEFT JOIN earnings.diamond_ledger l ON l.creator_id = c.id GROUP BY c.id HAVING c.diamonds <> coalesce(sum(l.amount), 0)`);
    expect(drift).toEqual([]);
  });

  it("the database refuses a negative balance and edits to the ledger", async () => {
    await expect(ds.query(`UPDATE earnings.creators SET diamonds = -1 WHERE id = 'p-basic'`)).rejects.toThrow(/creators_diamonds_non_negative/);
    await expect(ds.query(`UPDATE earnings.diamond_ledger SET amount = 1`)).rejects.toThrow(/append-only/);
    await expect(ds.query(`DELETE FROM earnings.diamond_ledger`)).rejects.toThrow(/append-only/);
  });
});
