import pg from "pg";

/** How often the drain check asks, and how long it waits at most. */
const POLL_MS = 25;
const DRAIN_TIMEOUT_MS = 120_000;

/**
 * Waits until every gift event has its credit — the earnings consumer has applied everything the
 * wallet committed — and answers how long that took (ms). sendGift's CPU per gift is only honest
 * when the window holds the consumer's work for the window's gifts: a consumer that falls behind
 * during the load would otherwise do that work after the window (in the next scenario's), and one
 * still catching up from the warm-up would do the warm-up's inside it.
 */
export async function creditsDrained(databaseUrl: string, timeoutMs = DRAIN_TIMEOUT_MS): Promise<number> {
  const started = performance.now();
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    for (;;) {
      const { rows } = await c.query<{ behind: string }>(
        `SELECT (SELECT count(*) FROM wallet.gift_events) - (SELECT count(*) FROM earnings.gift_credits) AS behind`,
      );
      if (Number(rows[0].behind) <= 0) return Math.round(performance.now() - started);
      if (performance.now() - started > timeoutMs) throw new Error(`the earnings consumer is ${rows[0].behind} gifts behind after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await c.end();
  }
}
