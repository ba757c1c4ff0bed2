import { randomUUID } from "node:crypto";
import { postJson } from "./post.js";
import { round, sleep, summarize, type Summary } from "./stats.js";
import { sendGiftBody, type Host, type World } from "./world.js";

/** Open-loop load for the stream scenarios: sends (or publishes) at a fixed offered rate, whatever the latency. */

/** Open-loop sender: fires sendGift at a fixed offered rate, whatever the latency. */
export async function sendAtRate(
  gatewayUrl: string,
  world: World,
  rate: number,
  durationSec: number,
  committed: Map<string, number>,
  started: Map<string, number> = new Map(),
  maxInflight = 2000,
  /** The rooms to send to, round robin (default: the hot host's). */
  hosts: Host[] = [world.hot],
): Promise<{ offered: number; ok: number; skipped: number; errors: Record<string, number>; achievedPerSec: number; responseMs: Summary; lateMs: Summary }> {
  const total = Math.max(1, Math.round(rate * durationSec));
  const errors: Record<string, number> = {};
  const responseMs: number[] = [];
  // How late each send left against its slot (start + i / rate): a starved load generator fires the sends it
  // missed as one burst, which the system under test then queues (and its receipts are stamped late too).
  const lateMs: number[] = [];
  let ok = 0;
  let sent = 0;
  let skipped = 0;
  let s = 0;
  let h = 0;
  const inflight = new Set<Promise<void>>();
  const fail = (k: string) => (errors[k] = (errors[k] ?? 0) + 1);
  const one = async () => {
    const sender = world.senders[s++ % world.senders.length];
    const host = hosts[h++ % hosts.length];
    const t0 = performance.now();
    try {
      const res = await postJson(
        gatewayUrl,
        sendGiftBody(world, host),
        { authorization: sender.authorization },
      );
      const body = res.json;
      const at = performance.now();
      const ev = body?.data?.sendGift?.giftEvent;
      if (ev?.id) {
        committed.set(ev.id, at);
        started.set(ev.id, t0);
        responseMs.push(at - t0);
        ok++;
      } else {
        const e = body?.errors?.[0];
        fail(e ? `${e.extensions?.code ?? "error"}${e.extensions?.code === "INTERNAL_SERVER_ERROR" ? `: ${String(e.message).slice(0, 80)}` : ""}` : body?.data?.sendGift?.userErrors?.[0]?.code ?? `HTTP ${res.status}`);
      }
    } catch (e) {
      fail((e as Error).message.slice(0, 60));
    }
  };
  const start = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (sent < due) {
      lateMs.push(performance.now() - start - (sent * 1000) / rate);
      sent++;
      // Open loop, but bounded: past maxInflight the system is overloaded; count what was not sent.
      if (inflight.size >= maxInflight) {
        skipped++;
        continue;
      }
      const p = one().finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await sleep(1);
  }
  await Promise.all(inflight);
  const elapsed = (performance.now() - start) / 1000;
  return { offered: rate, ok, skipped, errors, achievedPerSec: round(ok / elapsed, 1), responseMs: summarize(responseMs), lateMs: summarize(lateMs) };
}

/** Open-loop publisher for the anchor: POST /publish at `rate`, rooms round robin; "commit" = the instant the anchor published (it answers with it). */
export async function publishAtRate(url: string, rooms: string[], rate: number, durationSec: number, committed: Map<string, number>): Promise<void> {
  const total = Math.max(1, Math.round(rate * durationSec));
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  const start = performance.now();
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
    while (sent < due) {
      const id = randomUUID();
      const room = rooms[sent++ % rooms.length];
      const job = postJson(url, JSON.stringify({ room, id }))
        .then((res) => {
          const at = Number((res.json as { at?: number } | null)?.at);
          committed.set(id, Number.isFinite(at) ? at - performance.timeOrigin : performance.now());
        })
        .catch(() => undefined)
        .finally(() => inflight.delete(job));
      inflight.add(job);
    }
    await sleep(1);
  }
  await Promise.all(inflight);
}
