import { hostname } from "node:os";
import type { DataSource } from "typeorm";
import { DomainError, ErrorCode } from "../../../platform/errors.js";
import { logger } from "../../../platform/logger.js";
import type { PayoutRecord, PayoutService } from "./payouts.js";

/**
 * Payout runs on a schedule (DECISIONS 50).
 *
 * - One run at a time across instances: a run holds a session-level advisory lock on its own
 *   connection for its whole duration; a scheduled run that finds it taken is skipped, a manual
 *   one (processPayouts) waits for it a few seconds.
 * - A daily slot runs once: `earnings.payout_runs.slot` is unique; a slot whose run FINISHED is
 *   never run again, a slot whose run is still RUNNING without the lock (its instance died) is
 *   resumed by the next instance that starts or ticks.
 * - Restart mid-run: because every run holds the lock, a PROCESSING payout found at the start
 *   of a run belongs to a run that died; it is resubmitted at once with the same idempotency
 *   key (`payout:<id>`), so the provider answers with the original transfer: never paid twice,
 *   never forgotten.
 */

export interface SchedulerOptions {
  /** Daily UTC time; null = never by itself (tests drive `run` / `catchUp`). */
  scheduleUtc: { hour: number; minute: number } | null;
  batchSize: number;
  runMax: number;
  /** How long a manual run waits for a run in progress before answering that one is running. */
  manualWaitMs?: number;
}

export interface RunResult {
  runId: string;
  slot: string | null;
  trigger: "SCHEDULED" | "MANUAL";
  payouts: PayoutRecord[];
  resumed: number;
}

const RUN_LOCK = `hashtext('earnings:payout-run')`;

/** The most recent slot at or before `now` (today's time if passed, else yesterday's). */
export function lastSlot(now: Date, at: { hour: number; minute: number }): Date {
  const today = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), at.hour, at.minute));
  return today.getTime() <= now.getTime() ? today : new Date(today.getTime() - 86_400_000);
}

export const nextSlot = (now: Date, at: { hour: number; minute: number }) => new Date(lastSlot(now, at).getTime() + 86_400_000);

export class PayoutScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly ds: DataSource,
    private readonly payouts: PayoutService,
    readonly options: SchedulerOptions,
  ) {}

  /** Starts the daily timer (when a schedule is configured) after catching up on a missed or interrupted slot. */
  start(): void {
    if (!this.options.scheduleUtc) return;
    this.running = this.catchUp(new Date()).catch((e) => logger.error({ err: String(e) }, "payout catch-up failed"));
    this.arm();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  private arm(): void {
    if (this.stopped || !this.options.scheduleUtc) return;
    const at = nextSlot(new Date(), this.options.scheduleUtc);
    // setTimeout caps at ~24.8 days; a day is far below it. Re-armed after each run.
    this.timer = setTimeout(() => {
      this.running = this.run("SCHEDULED", at)
        .catch((e) => logger.error({ err: String(e) }, "scheduled payout run failed"))
        .finally(() => this.arm());
    }, Math.max(0, at.getTime() - Date.now()));
    this.timer.unref();
  }

  /** Runs the last due slot unless its run FINISHED (a missed slot, or one whose instance died mid-run). */
  async catchUp(now: Date): Promise<RunResult | null> {
    if (!this.options.scheduleUtc) return null;
    const slot = lastSlot(now, this.options.scheduleUtc);
    const [done] = await this.ds.query(`SELECT 1 FROM earnings.payout_runs WHERE slot = $1 AND status = 'FINISHED'`, [slot]);
    if (done) return null;
    return this.run("SCHEDULED", slot);
  }

  /**
   * One run: under the run lock, claims and settles batches until nothing is due or `runMax`
   * payouts were handled. Returns null when it did not run (another run holds the lock, or the
   * slot already FINISHED). A manual run waits up to `manualWaitMs`, then answers INVALID_STATE.
   */
  async run(trigger: "SCHEDULED" | "MANUAL", slot: Date | null, max = this.options.runMax): Promise<RunResult | null> {
    const qr = this.ds.createQueryRunner();
    await qr.connect();
    try {
      if (!(await this.lock(qr, trigger === "MANUAL" ? (this.options.manualWaitMs ?? 8_000) : 0))) {
        if (trigger === "MANUAL") throw new DomainError(ErrorCode.INVALID_STATE, "a payout run is in progress; try again shortly", { retryAfterSeconds: 5 });
        logger.info({ slot }, "payout run skipped: another instance is running one");
        return null;
      }
      try {
        return await this.runLocked(trigger, slot, max);
      } finally {
        await qr.query(`SELECT pg_advisory_unlock(${RUN_LOCK})`);
      }
    } finally {
      await qr.release();
    }
  }

  private async lock(qr: { query: (sql: string) => Promise<any> }, waitMs: number): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const [{ ok }] = await qr.query(`SELECT pg_try_advisory_lock(${RUN_LOCK}) AS ok`);
      if (ok) return true;
      if (Date.now() >= deadline) return false;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private async runLocked(trigger: "SCHEDULED" | "MANUAL", slot: Date | null, max: number): Promise<RunResult | null> {
    const [run] = slot
      ? await this.ds.query(
          `INSERT INTO earnings.payout_runs (slot, trigger, status) VALUES ($1, 'SCHEDULED', 'RUNNING')
           ON CONFLICT (slot) DO UPDATE SET started_at = now() WHERE earnings.payout_runs.status = 'RUNNING' RETURNING id`,
          [slot],
        )
      : await this.ds.query(`INSERT INTO earnings.payout_runs (trigger, status) VALUES ('MANUAL', 'RUNNING') RETURNING id`);
    if (!run) return null; // this slot already FINISHED (another instance ran it)
    // We hold the run lock: a PROCESSING payout without a planned retry was left by a run that died.
    const [{ n: resumed }] = await this.ds.query(`SELECT count(*)::int AS n FROM earnings.payouts WHERE status = 'PROCESSING' AND next_attempt_at IS NULL`);
    const payouts: PayoutRecord[] = [];
    while (payouts.length < max) {
      const batch = await this.payouts.processDue(Math.min(this.options.batchSize, max - payouts.length), 0);
      if (batch.length === 0) break;
      payouts.push(...batch);
      await this.ds.query(
        `UPDATE earnings.payout_runs SET submitted = $2, paid = $3, failed = $4, retrying = $5, resumed = $6 WHERE id = $1`,
        [run.id, payouts.length, count(payouts, "PAID"), count(payouts, "FAILED"), count(payouts, "PROCESSING"), resumed],
      );
    }
    await this.ds.query(`UPDATE earnings.payout_runs SET status = 'FINISHED', finished_at = now(), resumed = $2 WHERE id = $1`, [run.id, resumed]);
    logger.info({ runId: run.id, slot, trigger, submitted: payouts.length, resumed, host: hostname() }, "payout run finished");
    return { runId: run.id, slot: slot ? slot.toISOString() : null, trigger, payouts, resumed };
  }
}

const count = (ps: PayoutRecord[], status: string) => ps.filter((p) => p.status === status).length;
