import { performance } from "node:perf_hooks";

/**
 * Group commit: items submitted concurrently in one process are handed to `run` together, so many
 * operations share one database round trip and one commit (sendGift's batches, DECISIONS 90).
 *
 * - A batch is flushed when it holds `maxSize` items, or when its oldest item has waited
 *   `maxWaitMs`, whichever comes first, and only while fewer than `maxInFlight` batches run;
 *   items that arrive meanwhile wait for a slot and go out as soon as one frees.
 * - A batch waits for company only when company is coming: its oldest item waits (up to
 *   `maxWaitMs`) only if an item of another order key was submitted less than `maxWaitMs` before
 *   it. The first item after a quiet spell, and every item of a lone serial submitter (one key,
 *   whose next item cannot come before this one is answered), goes at once: a timer would only
 *   add its length to their latency (DECISIONS 135).
 * - Items with the same `orderKey` (a sender) keep their submission order: they go in one batch in
 *   order, and never in two batches at once — a later item waits while an earlier one is in flight.
 *   Batches running at once therefore never share an order key.
 * - `run` returns one result per item, in order (per-item failures are results, not throws). When it
 *   throws, the batch failed as a whole: a transient failure (`isTransient`) is retried, up to
 *   `attempts` runs in all, then every item is rejected with the error; any other failure re-runs
 *   each item alone, in order, so an item that breaks its batch fails alone.
 *
 * `run` must be all-or-nothing per call and safe to repeat (idempotency keys make sendGift's so: a
 * retried batch whose commit did happen answers every send with its stored result).
 */
/** Runs of one batch in all when it keeps failing transiently, unless `attempts` says otherwise. */
export const BATCH_ATTEMPTS = 3;

export interface GroupCommitOptions {
  maxSize: number;
  maxWaitMs: number;
  maxInFlight: number;
  /** Runs of one batch in all when it fails transiently (default BATCH_ATTEMPTS). */
  attempts?: number;
  /** Backoff before retry n (1-based), in ms (default 10 × 4^(n-1)). */
  backoffMs?: (retry: number) => number;
  /** Told of each batch as it runs (the group_commit_* metrics, platform/metrics.ts groupCommitMetrics). */
  observer?: GroupCommitObserver;
}

/** What happens to batches, as it happens: the same events `stats()` counts. */
export interface GroupCommitObserver {
  /** A batch's first run starts: its size and each item's wait since submit() (ms). */
  started(items: number, queuedMs: readonly number[]): void;
  /** A batch answered every item (after its retries or its split). */
  finished(items: number): void;
  /** A run repeated after a transient failure. */
  retried(): void;
  /** A batch rejected as a whole after its last attempt. */
  failed(): void;
  /** A batch re-run item by item after a non-transient failure. */
  split(): void;
}

export interface GroupCommitStats {
  /** Batches run to completion (retries of one batch count once). */
  batches: number;
  /** Items answered by a completed batch. */
  items: number;
  /** Largest batch so far. */
  largest: number;
  /** Batches in which one order key had more than one item. */
  batchesWithRepeatedKeys: number;
  /** Runs repeated after a transient failure. */
  retries: number;
  /** Batches rejected as a whole after their last attempt. */
  failed: number;
  /** Batches re-run item by item after a non-transient failure. */
  split: number;
  /** Σ over answered items of the time from submit() to the start of their batch's first run (ms). */
  queuedMs: number;
  /** Σ over batches of the time from their first run to their answers, retries included (ms). */
  runMs: number;
  /** Waiting for a batch now. */
  queued: number;
  /** Batches running now. */
  inFlight: number;
}

interface Entry<I, O> {
  item: I;
  key: string;
  at: number;
  /** An item of another key was submitted less than maxWaitMs before this one: a partial batch it leads may wait. */
  company: boolean;
  resolve: (o: O) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit<I, O> {
  private queue: Entry<I, O>[] = [];
  /** Order keys with an item in a running batch. */
  private readonly busy = new Set<string>();
  private running = 0;
  private timer: NodeJS.Timeout | null = null;
  /** The last submit, and when the last submit of a key other than its key was (for Entry.company). */
  private last: { key: string; at: number } | null = null;
  private lastOtherAt = Number.NEGATIVE_INFINITY;
  private readonly counts = { batches: 0, items: 0, largest: 0, batchesWithRepeatedKeys: 0, retries: 0, failed: 0, split: 0, queuedMs: 0, runMs: 0 };
  private readonly idle: (() => void)[] = [];

  constructor(
    private readonly opts: GroupCommitOptions,
    private readonly run: (items: I[]) => Promise<O[]>,
    private readonly orderKey: (item: I) => string,
    private readonly isTransient: (err: unknown) => boolean,
  ) {
    for (const [name, v, min] of [["maxSize", opts.maxSize, 1], ["maxWaitMs", opts.maxWaitMs, 0], ["maxInFlight", opts.maxInFlight, 1], ["attempts", opts.attempts ?? BATCH_ATTEMPTS, 1]] as const) {
      if (!Number.isSafeInteger(v) || v < min) throw new Error(`group commit: ${name} must be an integer >= ${min}, got ${v}`);
    }
  }

  submit(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      const key = this.orderKey(item);
      const at = performance.now();
      this.queue.push({ item, key, at, company: at - this.lastOtherThan(key) < this.opts.maxWaitMs, resolve, reject });
      if (this.last && this.last.key !== key) this.lastOtherAt = this.last.at;
      this.last = { key, at };
      this.pump();
    });
  }

  /** When an item of a key other than `key` was last submitted (-Infinity: never). */
  private lastOtherThan(key: string): number {
    if (!this.last) return Number.NEGATIVE_INFINITY;
    return this.last.key !== key ? this.last.at : this.lastOtherAt;
  }

  stats(): GroupCommitStats {
    return { ...this.counts, queued: this.queue.length, inFlight: this.running };
  }

  /** Resolves when nothing is queued or running (shutdown, tests). Queued items are flushed without waiting. */
  async drain(): Promise<void> {
    if (this.queue.length === 0 && this.running === 0) return;
    await new Promise<void>((resolve) => {
      this.idle.push(resolve);
      this.pump(true);
    });
  }

  /** Starts every batch that may start now; arms the timer for the next one that must wait. */
  private pump(now = this.idle.length > 0): void {
    while (this.running < this.opts.maxInFlight && this.queue.length > 0) {
      const picked = this.pick();
      if (picked.length === 0) break; // every queued item waits for its key's running batch
      const due = now || picked.length >= this.opts.maxSize || !picked[0].company || performance.now() - picked[0].at >= this.opts.maxWaitMs;
      if (!due) {
        this.arm(this.opts.maxWaitMs - (performance.now() - picked[0].at));
        return;
      }
      const taken = new Set(picked);
      this.queue = this.queue.filter((e) => !taken.has(e));
      void this.start(picked);
    }
    if (this.queue.length === 0 && this.running === 0) for (const done of this.idle.splice(0)) done();
  }

  /** The next batch: up to maxSize items in submission order whose key has nothing running. */
  private pick(): Entry<I, O>[] {
    const picked: Entry<I, O>[] = [];
    for (const e of this.queue) {
      if (picked.length >= this.opts.maxSize) break;
      if (!this.busy.has(e.key)) picked.push(e);
    }
    return picked;
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, Math.max(0, Math.ceil(ms)));
    this.timer.unref?.();
  }

  private async start(batch: Entry<I, O>[]): Promise<void> {
    const keys = new Set(batch.map((e) => e.key));
    for (const k of keys) this.busy.add(k);
    this.running++;
    this.counts.largest = Math.max(this.counts.largest, batch.length);
    if (keys.size < batch.length) this.counts.batchesWithRepeatedKeys++;
    const started = performance.now();
    const queuedMs = batch.map((e) => started - e.at);
    for (const ms of queuedMs) this.counts.queuedMs += ms;
    this.opts.observer?.started(batch.length, queuedMs);
    try {
      await this.settle(batch);
    } finally {
      this.counts.runMs += performance.now() - started;
      for (const k of keys) this.busy.delete(k);
      this.running--;
      this.counts.batches++;
      this.counts.items += batch.length;
      this.opts.observer?.finished(batch.length);
      this.pump();
    }
  }

  /** Runs one batch to an answer for each of its items (retrying, or splitting it). Never throws. */
  private async settle(batch: Entry<I, O>[]): Promise<void> {
    const attempts = this.opts.attempts ?? BATCH_ATTEMPTS;
    const backoff = this.opts.backoffMs ?? ((n: number) => 10 * 4 ** (n - 1));
    for (let attempt = 1; ; attempt++) {
      let results: O[];
      try {
        results = await this.run(batch.map((e) => e.item));
        if (results.length !== batch.length) throw new Error(`group commit: ${results.length} results for ${batch.length} items`);
      } catch (err) {
        if (this.isTransient(err) && attempt < attempts) {
          this.counts.retries++;
          this.opts.observer?.retried();
          await new Promise((r) => setTimeout(r, backoff(attempt)));
          continue;
        }
        if (!this.isTransient(err) && batch.length > 1) {
          // Something in this batch breaks it (a constraint, a bug): answer each item on its own.
          this.counts.split++;
          this.opts.observer?.split();
          for (const e of batch) await this.settle([e]);
          return;
        }
        this.counts.failed++;
        this.opts.observer?.failed();
        for (const e of batch) e.reject(err);
        return;
      }
      batch.forEach((e, i) => e.resolve(results[i]));
      return;
    }
  }
}
