import pg from "pg";
import { sleep } from "./stats.js";

/** How often the drain check asks, and how long it waits at most. */
const POLL_MS = 25;
const DRAIN_TIMEOUT_MS = 120_000;

/** Gift events the earnings consumer has not credited yet (one credit row per gift event). */
export async function uncreditedGifts(c: pg.Client): Promise<number> {
  const { rows } = await c.query<{ n: string }>(`SELECT (SELECT count(*) FROM wallet.gift_events) - (SELECT count(*) FROM earnings.gift_credits) AS n`);
  return Number(rows[0].n);
}

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
    for (let behind = await uncreditedGifts(c); behind > 0; behind = await uncreditedGifts(c)) {
      if (performance.now() - started > timeoutMs) throw new Error(`the earnings consumer is ${behind} gifts behind after ${timeoutMs} ms`);
      await sleep(POLL_MS);
    }
    return Math.round(performance.now() - started);
  } finally {
    await c.end();
  }
}
