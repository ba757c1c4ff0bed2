import { EventEmitter } from "node:events";

/**
 * In-process coordination of recharges (one per RechargeService). Neither is needed for
 * correctness — the advisory lock and the order's row lock are — they keep a burst cheap:
 * - a per-user queue, so one user's burst waits here instead of parking every pool connection
 *   on the advisory lock (which starves webhooks and other users);
 * - a "settled" signal, so a duplicate request waiting for its in-flight original wakes at once
 *   (a twin on another instance is found by polling).
 */
export class InFlight {
  private readonly userQueues = new Map<string, Promise<unknown>>();
  private readonly settledOrders = new EventEmitter().setMaxListeners(0);

  /** Runs `fn` after earlier calls for the same user in this process (also after one that failed). */
  serializedPerUser<T>(userId: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.userQueues.get(userId) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.userQueues.set(userId, tail);
    void tail.then(() => {
      if (this.userQueues.get(userId) === tail) this.userQueues.delete(userId);
    });
    return run;
  }

  /** The order may have left PROCESSING: wakes this process's waiters. */
  settled(orderId: string): void {
    this.settledOrders.emit(orderId);
  }

  /** Resolves when `settled(orderId)` is called or after `ms` (at most), whichever comes first. */
  waitSettled(orderId: string, ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.settledOrders.off(orderId, done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.settledOrders.on(orderId, done);
    });
  }
}
