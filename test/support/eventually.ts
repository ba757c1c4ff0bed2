/**
 * Retries `check` until it passes or `ms` runs out (asynchronous effects: the earnings consumer's
 * credits, owner-read invalidations promised "within 2 s"); the slack is for a loaded CI machine.
 */
export async function eventually<T>(check: () => Promise<T>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
