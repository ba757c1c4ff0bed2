import { randomUUID } from "node:crypto";
import { pool, subscribe, type StreamSubscriber } from "../lib/client.js";
import { postJson } from "../lib/post.js";
import type { BenchStack } from "../lib/stack.js";
import { round, sleep, summarize, type Summary } from "../lib/stats.js";
import { SEND_GIFT, type Person, type World } from "../lib/world.js";
import type { Profile } from "../profile.js";
import os from "node:os";
import { cpuWindow, perOperation } from "../lib/cpu.js";

/**
 * Live-stream scenarios through the gateway's graphql-ws endpoint.
 *
 * Latency is "commit → subscriber": from the moment the sender's client has the sendGift
 * response (the transaction committed before the wallet answered, so this is commit time
 * plus the response's trip back through the gateway, well under a millisecond when idle)
 * to the moment the subscriber's client has parsed the event. Sender and subscribers live
 * in this one process, so both timestamps come from the same clock.
 */

/** Open-loop sender: fires sendGift at a fixed offered rate, whatever the latency. */
async function sendAtRate(
  gatewayUrl: string,
  world: World,
  rate: number,
  durationSec: number,
  committed: Map<string, number>,
  started: Map<string, number> = new Map(),
  maxInflight = 2000,
): Promise<{ offered: number; ok: number; skipped: number; errors: Record<string, number>; achievedPerSec: number; responseMs: Summary }> {
  const total = Math.max(1, Math.round(rate * durationSec));
  const errors: Record<string, number> = {};
  const responseMs: number[] = [];
  let ok = 0;
  let sent = 0;
  let skipped = 0;
  let s = 0;
  const inflight = new Set<Promise<void>>();
  const fail = (k: string) => (errors[k] = (errors[k] ?? 0) + 1);
  const one = async () => {
    const sender = world.senders[s++ % world.senders.length];
    const t0 = performance.now();
    try {
      const res = await postJson(
        gatewayUrl,
        JSON.stringify({
          query: SEND_GIFT,
          variables: { i: { giftId: world.gift.id, hostId: world.hot.id, liveSessionId: world.hot.liveSessionId, quantity: 1, expectedUnitCost: world.gift.coinCost, idempotencyKey: randomUUID() } },
        }),
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
  return { offered: rate, ok, skipped, errors, achievedPerSec: round(ok / elapsed, 1), responseMs: summarize(responseMs) };
}

function latencies(committed: Map<string, number>, received: { id: string; at: number }[]): number[] {
  const out: number[] = [];
  for (const r of received) {
    const c = committed.get(r.id);
    if (c !== undefined) out.push(r.at - c);
  }
  return out;
}

/** Waits until `done()`, as long as `progress()` keeps changing (gives up after `idleMs` without progress). */
async function waitWhileProgressing(done: () => boolean, progress: () => number, idleMs: number): Promise<boolean> {
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

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(50);
  }
  return cond();
}

const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

/** Sends probe gifts until every subscriber has received one: then all are registered upstream. */
async function primeSubscribers(stack: BenchStack, world: World, subs: { received: number }[], timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  const probe = new Map<string, number>();
  while (Date.now() < end) {
    await sendAtRate(stack.urls.gateway, world, 20, 0.05, probe);
    if (await waitFor(() => subs.every((s) => s.received > 0), 1000)) return true;
  }
  return false;
}

export interface DeliveryResult {
  offeredPerSec: number;
  durationSec: number;
  achievedSendPerSec: number;
  /** Offered sends not made because 2,000 were already in flight (the system could not keep up). */
  notSentOverloaded: number;
  sent: number;
  delivered: number;
  lost: number;
  sendErrors: Record<string, number>;
  sendResponseMs: Summary;
  /** sendGift response received (≈ commit) → event parsed by the host's client. */
  commitToSubscriberMs: Summary;
  /** sendGift request sent → event parsed (an upper bound that includes the sendGift latency). */
  requestToSubscriberMs: Summary;
  /** CPU per gift sent (sendGift + consumer + stream), by process. */
  cpu: ReturnType<typeof perOperation>;
}

const HOST_STREAM = `subscription Host($host: ID!) { giftReceived(hostId: $host) { id cursor senderName quantity coins diamonds comboCount sentAt gift { name animationUrl } } }`;

/** Scenario 5: the hot host's private stream, at fixed offered rates. */
export async function delivery(stack: BenchStack, world: World, p: Profile): Promise<DeliveryResult[]> {
  const received: { id: string; at: number }[] = [];
  const host = subscribe(wsUrl(stack.urls.gateway), world.hot.token, HOST_STREAM, { host: world.hot.id }, (v, at) => received.push({ id: v.id, at }));
  try {
    if (!(await primeSubscribers(stack, world, [host], 30_000))) throw new Error(`host subscription never delivered: ${host.errors.join("; ")}`);
    const out: DeliveryResult[] = [];
    for (const rate of p.deliveryRates) {
      await sleep(1000);
      received.length = 0;
      const committed = new Map<string, number>();
      const startedAt = new Map<string, number>();
      const endCpu = cpuWindow(stack.cpuGroups);
      const send = await sendAtRate(stack.urls.gateway, world, rate, p.deliverySec, committed, startedAt);
      const got = new Set<string>();
      let seen = 0;
      const count = () => {
        for (; seen < received.length; seen++) got.add(received[seen].id);
        return received.length;
      };
      await waitWhileProgressing(() => (count(), [...committed.keys()].every((id) => got.has(id))), count, 10_000);
      const lost = [...committed.keys()].filter((id) => !got.has(id)).length;
      const cpu = perOperation(endCpu(), send.ok, os.cpus().length);
      out.push({
        offeredPerSec: rate,
        durationSec: p.deliverySec,
        achievedSendPerSec: send.achievedPerSec,
        notSentOverloaded: send.skipped,
        sent: send.ok,
        delivered: committed.size - lost,
        lost,
        sendErrors: send.errors,
        sendResponseMs: send.responseMs,
        commitToSubscriberMs: summarize(latencies(committed, received)),
        requestToSubscriberMs: summarize(latencies(startedAt, received)),
        cpu,
      });
    }
    if (host.errors.length) out.forEach((r) => ((r as DeliveryResult & { streamErrors?: string[] }).streamErrors = host.errors));
    return out;
  } finally {
    await host.dispose();
  }
}

export interface FanoutResult {
  viewers: number;
  /** The viewers' query selects gift name/image/animation: one catalog entity fetch per event per viewer. */
  catalogFields: boolean;
  connected: number;
  primed: boolean;
  giftsPerSec: number;
  durationSec: number;
  giftsSent: number;
  expectedMessages: number;
  deliveredMessages: number;
  /** Delivered messages ÷ (first send → last message). */
  messagesPerSec: number;
  commitToViewerMs: Summary;
  viewersWithErrors: number;
  sampleErrors: string[];
  connectSec: number;
  /** CPU per delivered message, by process. */
  cpu: ReturnType<typeof perOperation>;
}

/** What a viewer's app shows. With catalogFields the gateway fetches the gift from the catalog for every event and viewer. */
const ROOM_FEED = (catalogFields: boolean) =>
  `subscription Room($room: ID!) { liveGiftFeed(liveSessionId: $room) { id cursor senderName quantity comboCount gift { id${catalogFields ? " name imageUrl animationUrl" : ""} } } }`;

/** Scenario 6: N viewers (one graphql-ws connection each) on one room's public feed. */
export async function fanout(stack: BenchStack, world: World, viewers: Person[], p: Profile, catalogFields: boolean): Promise<FanoutResult> {
  const received: { id: string; at: number }[] = [];
  const t0 = performance.now();
  const subs: StreamSubscriber[] = [];
  await pool(viewers, 100, async (v) => {
    const s = subscribe(wsUrl(stack.urls.gateway), v.token, ROOM_FEED(catalogFields), { room: world.hot.liveSessionId }, (val, at) => received.push({ id: val.id, at }));
    subs.push(s);
    await new Promise<void>((resolve) => {
      const off1 = s.client.on("connected", () => (off1(), off2(), resolve()));
      const off2 = s.client.on("closed", () => (off1(), off2(), resolve()));
    });
  });
  const connectSec = round((performance.now() - t0) / 1000, 2);
  try {
    const primed = await primeSubscribers(stack, world, subs, p.fanoutPrimeSec * 1000);
    await sleep(1000);
    received.length = 0;
    for (const s of subs) s.received = 0;
    const committed = new Map<string, number>();
    const started = performance.now();
    const endCpu = cpuWindow(stack.cpuGroups);
    const send = await sendAtRate(stack.urls.gateway, world, p.fanoutGiftsPerSec, p.fanoutSec, committed);
    const expected = committed.size * viewers.length;
    // Count only this phase's gifts: probe events from the priming phase may still be arriving.
    let ours = 0;
    let scanned = 0;
    let last = started;
    const count = () => {
      for (; scanned < received.length; scanned++) {
        if (committed.has(received[scanned].id)) {
          ours++;
          last = received[scanned].at;
        }
      }
      return ours;
    };
    await waitWhileProgressing(() => count() >= expected, count, 10_000);
    const cpu = perOperation(endCpu(), ours, os.cpus().length);
    const withErrors = subs.filter((s) => s.errors.length > 0);
    return {
      viewers: viewers.length,
      catalogFields,
      connected: subs.filter((s) => !s.completed).length,
      primed,
      giftsPerSec: p.fanoutGiftsPerSec,
      durationSec: p.fanoutSec,
      giftsSent: send.ok,
      expectedMessages: expected,
      deliveredMessages: ours,
      messagesPerSec: round(ours / Math.max(0.001, (last - started) / 1000), 0),
      commitToViewerMs: summarize(latencies(committed, received)),
      viewersWithErrors: withErrors.length,
      sampleErrors: [...new Set(withErrors.flatMap((s) => s.errors))].slice(0, 5),
      connectSec,
      cpu,
    };
  } finally {
    await pool(subs, 200, (s) => s.dispose());
  }
}
