import { sleep } from "./stats.js";

/** Waits of the stream scenarios, on what the clients observed (polled every 50 ms). */

/** Waits until `done()`, as long as `progress()` keeps changing (gives up after `idleMs` without progress). */
export async function waitWhileProgressing(done: () => boolean, progress: () => number, idleMs: number): Promise<boolean> {
  let last = progress();
  let lastChange = Date.now();
  while (!done()) {
    await sleep(50);
    const now = progress();
    if (now !== last) {
      last = now;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > idleMs) return false;
  }
  return true;
}

export async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

/** Sends probe gifts (`probe()`) until every subscriber has received one: then all are registered upstream. */
export async function primeSubscribers(probe: () => Promise<unknown>, subs: { received: number }[], timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    await probe();
    if (await waitFor(() => subs.every((s) => s.received > 0), 1000)) return true;
  }
  return false;
}
