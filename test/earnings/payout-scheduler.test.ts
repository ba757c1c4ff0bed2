import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DataSource } from "typeorm";
import type { AuthUser } from "../../platform/auth.js";
import { DomainError, ErrorCode } from "../../platform/errors.js";
import { loadEarningsConfig, parseScheduleUtc } from "../../subgraphs/earnings/config.js";
import { CreatorService } from "../../subgraphs/earnings/domain/creators.js";
import { GiftCreditConsumer } from "../../subgraphs/earnings/transport/gift-credit-consumer.js";
import { PayoutHoldService } from "../../subgraphs/earnings/domain/payout-holds.js";
import { PayoutScheduler, lastSlot, nextSlot } from "../../subgraphs/earnings/domain/payout-scheduler.js";
import { PayoutService, SandboxPayoutProvider, type PayoutInstruction, type PayoutOutcome, type PayoutProvider } from "../../subgraphs/earnings/domain/payouts.js";
import { createTestDatabase } from "../support/db.js";
import { eventually } from "../support/eventually.js";
import { earningsDataSource, gift, one, produce } from "./support.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let ds: DataSource;
let consumer: GiftCreditConsumer;
let bank: SandboxPayoutProvider;
const extra: DataSource[] = [];

const DAILY = { hour: 2, minute: 0 };
const opts = { scheduleUtc: DAILY, batchSize: 3, runMax: 1000, manualWaitMs: 200 };

beforeAll(async () => {
  db = await createTestDatabase("payoutsched");
  ({ ds } = await earningsDataSource(db.url, 8));
  consumer = new GiftCreditConsumer(ds);
  await consumer.consumer.ensure();
  bank = new SandboxPayoutProvider();
});
afterAll(async () => {
  for (const d of [ds, ...extra]) if (d?.isInitialized) await d.destroy().catch(() => undefined);
  await db?.drop();
});

const host = (id: string): AuthUser => ({ id, name: `Host ${id}`, roles: ["viewer", "host"], region: "US", adult: true, exp: undefined });

/** An "instance": its own DataSource (pool), services and scheduler, sharing the database and the bank. */
async function instance(provider: PayoutProvider = bank) {
  const { ds: own } = await earningsDataSource(db.url, 4);
  extra.push(own);
  const payouts = new PayoutService(own, new CreatorService(own), provider);
  return { ds: own, payouts, scheduler: new PayoutScheduler(own, payouts, opts) };
}

async function requested(creatorId: string, diamonds = 10_000) {
  await produce(ds, [gift({ hostId: creatorId, unitCost: diamonds * 2, quantity: 1 })]);
  await consumer.drain();
  const svc = new PayoutService(ds, new CreatorService(ds), bank);
  return (await svc.request(host(creatorId), diamonds, `k-${creatorId}`)).payout;
}

const statusOf = async (id: string) => (await one(ds, `SELECT status, attempts, next_attempt_at FROM earnings.payouts WHERE id = $1`, [id])) as { status: string; attempts: number; next_attempt_at: Date | null };
const balance = async (id: string) => Number((await one(ds, `SELECT diamonds FROM earnings.creators WHERE id = $1`, [id])).diamonds);
let slotDay = 0;
/** A fresh daily slot per test (the slot table is shared by the file). */
const freshNow = () => new Date(Date.UTC(2031, 0, 1 + ++slotDay, 3, 0));

describe("PAYOUT_SCHEDULE_UTC and slots", () => {
  it("parses HH:MM (UTC) or off, refuses anything else, and is off in tests by default", () => {
    expect(parseScheduleUtc("02:00", null)).toEqual({ hour: 2, minute: 0 });
    expect(parseScheduleUtc("off", "02:00")).toBeNull();
    expect(() => parseScheduleUtc("25:00", null)).toThrow(/HH:MM/);
    expect(() => parseScheduleUtc("2am", null)).toThrow(/HH:MM/);
    expect(loadEarningsConfig({ VITEST: "true" }).payoutScheduleUtc).toBeNull();
    expect(loadEarningsConfig({ NODE_ENV: "production" }).payoutScheduleUtc).toEqual({ hour: 2, minute: 0 });
    expect(loadEarningsConfig({ NODE_ENV: "production", PAYOUT_SCHEDULE_UTC: "23:45" }).payoutScheduleUtc).toEqual({ hour: 23, minute: 45 });
  });

  it("the due slot is today's time once passed, else yesterday's; the next one a day later", () => {
    expect(lastSlot(new Date("2031-05-10T02:00:00Z"), DAILY).toISOString()).toBe("2031-05-10T02:00:00.000Z");
    expect(lastSlot(new Date("2031-05-10T01:59:59Z"), DAILY).toISOString()).toBe("2031-05-09T02:00:00.000Z");
    expect(nextSlot(new Date("2031-05-10T02:00:00Z"), DAILY).toISOString()).toBe("2031-05-11T02:00:00.000Z");
  });
});

describe("scheduled payout runs", () => {
  it("a run pays what is due; the same slot never runs twice, also from another instance", async () => {
    const p = await requested("s-due");
    const a = await instance();
    const b = await instance();
    const now = freshNow();
    const run = await a.scheduler.catchUp(now);
    expect(run?.payouts.map((x) => [x.id, x.status])).toContainEqual([p.id, "PAID"]);
    expect(await b.scheduler.catchUp(now)).toBeNull();
    expect(bank.submissions.get(p.id)).toBe(1);
    const [r] = await ds.query(`SELECT status, paid FROM earnings.payout_runs WHERE slot = $1`, [lastSlot(now, DAILY)]);
    expect(r.status).toBe("FINISHED");
    expect(r.paid).toBeGreaterThanOrEqual(1);
  });

  it("one run at a time across instances: a second scheduled run is skipped, a manual one waits, then answers INVALID_STATE", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow: PayoutProvider = { name: "sandbox", submit: async (i) => (await gate, bank.submit(i)) };
    const p = await requested("s-lock");
    const a = await instance(slow);
    const b = await instance();
    const running = a.scheduler.run("SCHEDULED", new Date("2031-02-01T02:00:00Z"));
    await eventually(async () => expect((await statusOf(p.id)).status).toBe("PROCESSING"));
    expect(await b.scheduler.run("SCHEDULED", new Date("2031-02-02T02:00:00Z"))).toBeNull();
    const manual = await b.scheduler.run("MANUAL", null).catch((e) => e);
    expect(manual).toBeInstanceOf(DomainError);
    expect((manual as DomainError).code).toBe(ErrorCode.INVALID_STATE);
    release();
    expect((await running)?.payouts.find((x) => x.id === p.id)?.status).toBe("PAID");
    expect(bank.submissions.get(p.id)).toBe(1);
  });

  it("a provider outage leaves the payout PROCESSING with a retry planned; it is resubmitted with the same key once due, paid once", async () => {
    const p = await requested("s-outage");
    const a = await instance();
    bank.failNext(1);
    await a.scheduler.run("MANUAL", null);
    const after = await statusOf(p.id);
    expect(after).toMatchObject({ status: "PROCESSING", attempts: 1 });
    expect(after.next_attempt_at!.getTime()).toBeGreaterThan(Date.now());
    // Not due yet: the next run leaves it alone.
    await a.scheduler.run("MANUAL", null);
    expect((await statusOf(p.id)).attempts).toBe(1);
    await ds.query(`UPDATE earnings.payouts SET next_attempt_at = now() WHERE id = $1`, [p.id]);
    await a.scheduler.run("MANUAL", null);
    expect(await statusOf(p.id)).toMatchObject({ status: "PAID", attempts: 2 });
    expect([...bank.transfers.keys()].filter((k) => k === `payout:${p.id}`)).toHaveLength(1);
    const events = (await new PayoutHoldService(ds).lifecycle(p.id)).events.map((e) => e.to);
    expect(events).toEqual(["REQUESTED", "PROCESSING", "PROCESSING", "PROCESSING", "PAID"]);
  });

  it("a restart mid-run (the process dies between the provider's transfer and the state update) neither pays twice nor forgets the payout", async () => {
    const p = await requested("s-crash");
    // Instance A: the provider makes the transfer, then A "dies" before it can record it.
    const dying: PayoutProvider = { name: "sandbox", submit: (i: PayoutInstruction) => bank.submit(i).then(() => new Promise<PayoutOutcome>(() => undefined)) };
    const a = await instance(dying);
    const now = freshNow();
    void a.scheduler.catchUp(now);
    await eventually(async () => expect(bank.transfers.has(`payout:${p.id}`)).toBe(true));
    // Kill A's database session (the one holding the run lock), as a crash would.
    await ds.query(`SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`);
    expect((await statusOf(p.id)).status).toBe("PROCESSING");
    const [run] = await ds.query(`SELECT status FROM earnings.payout_runs WHERE slot = $1`, [lastSlot(now, DAILY)]);
    expect(run.status).toBe("RUNNING");

    // Instance B starts: it resumes the interrupted slot and resubmits with the same idempotency key.
    const b = await instance();
    const resumed = await eventually(async () => {
      const r = await b.scheduler.catchUp(now);
      expect(r).not.toBeNull();
      return r!;
    });
    expect(resumed.resumed).toBe(1);
    expect(resumed.payouts.find((x) => x.id === p.id)?.status).toBe("PAID");
    expect(bank.submissions.get(p.id)).toBe(2);
    expect([...bank.transfers.keys()].filter((k) => k === `payout:${p.id}`)).toHaveLength(1);
    expect(await balance("s-crash")).toBe(0);
    const [done] = await ds.query(`SELECT status, resumed FROM earnings.payout_runs WHERE slot = $1`, [lastSlot(now, DAILY)]);
    expect(done).toEqual({ status: "FINISHED", resumed: 1 });
  });
});

describe("payout holds", () => {
  it("a held creator's payout waits through runs (others are paid) and is paid by the first run after release; both steps are recorded with who and why", async () => {
    const held = await requested("s-held");
    const other = await requested("s-free");
    const holds = new PayoutHoldService(ds);
    await holds.hold("ops-ada", "s-held", "KYC documents expired");
    await holds.hold("ops-bob", "s-held", "second hold keeps the first");
    const a = await instance();
    await a.scheduler.run("MANUAL", null);
    expect((await statusOf(held.id)).status).toBe("REQUESTED");
    expect((await statusOf(other.id)).status).toBe("PAID");
    expect(await holds.holdOf("s-held")).toMatchObject({ reason: "KYC documents expired", heldBy: "ops-ada" });
    await holds.release("ops-ada", "s-held", "documents received");
    await a.scheduler.run("MANUAL", null);
    expect((await statusOf(held.id)).status).toBe("PAID");
    expect((await holds.history("s-held")).map((h) => [h.action, h.actor, h.reason])).toEqual([
      ["HOLD", "ops-ada", "KYC documents expired"],
      ["RELEASE", "ops-ada", "documents received"],
    ]);
  });

  it("refuses an empty reason and an unknown creator", async () => {
    const holds = new PayoutHoldService(ds);
    await expect(holds.hold("ops", "s-free", " ")).rejects.toMatchObject({ code: ErrorCode.INVALID_INPUT });
    await expect(holds.hold("ops", "nobody-here", "x")).rejects.toMatchObject({ code: ErrorCode.NOT_FOUND });
  });
});

describe("the sandbox payout provider", () => {
  it("is idempotent by key, fails .13 amounts and unsupported currencies, and reports the money it sent", async () => {
    const s = new SandboxPayoutProvider();
    const i = { payoutId: "00000000-0000-4000-8000-000000000001", creatorId: "c", amountMinor: 5000, currency: "USD", idempotencyKey: "payout:1" };
    const first = await s.submit(i);
    expect(await s.submit(i)).toEqual(first);
    expect(s.paidMinor()).toBe(5000);
    expect((await s.submit({ ...i, idempotencyKey: "payout:2", amountMinor: 5013 })).status).toBe("FAILED");
    expect((await s.submit({ ...i, idempotencyKey: "payout:3", currency: "XTS" })).failureReason).toMatch(/not supported/);
    expect(s.paidMinor()).toBe(5000);
  });
});
