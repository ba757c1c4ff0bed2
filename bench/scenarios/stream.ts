import { randomUUID } from "node:crypto";
import { pool, subscribe } from "../lib/client.js";
import { watch, type Viewer } from "../lib/viewer.js";
import { postJson } from "../lib/post.js";
import type { BenchStack } from "../lib/stack.js";
import { round, sleep, summarize, type Summary } from "../lib/stats.js";
import { SEND_GIFT, type Host, type Person, type World } from "../lib/world.js";
import type { Profile } from "../profile.js";
import os from "node:os";
import { cpuWindow, perOperation, type Groups } from "../lib/cpu.js";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { commitTimes } from "../lib/commit-clock.js";

/**
 * Live-stream scenarios through the gateway's graphql-ws endpoint.
 *
 * Latency is "commit → subscriber": from the gift event's commit in the database (its
 * transaction's commit timestamp, bench/lib/commit-clock.ts) to the moment the subscriber's
 * client has parsed the event. PostgreSQL, sender and subscribers share this machine's clock.
 * (It used to be stamped when the sender's client had the sendGift response, which under load
 * can be after the viewer has the event: negative latency. That figure is still reported as
 * `responseToSubscriberMs` / `responseToViewerMs`, and is the fallback when the server does not
 * track commit timestamps: `clock` says which one a result used.)
 */

/** Where "commit" came from: the database's commit timestamps, or the sendGift responses (fallback). */
export type CommitClock = "database commit timestamp" | "sendGift response" | "anchor publish";

/** Commit instants from the database when it has them, else the response stamps. */
async function commitClock(databaseUrl: string, responded: Map<string, number>): Promise<{ at: Map<string, number>; clock: CommitClock }> {
  const db = await commitTimes(databaseUrl, [...responded.keys()]);
  return db ? { at: db, clock: "database commit timestamp" } : { at: responded, clock: "sendGift response" };
}

/** Open-loop sender: fires sendGift at a fixed offered rate, whatever the latency. */
async function sendAtRate(
  gatewayUrl: string,
  world: World,
  rate: number,
  durationSec: number,
  committed: Map<string, number>,
  started: Map<string, number> = new Map(),
  maxInflight = 2000,
  /** The rooms to send to, round robin (default: the hot host's). */
  hosts: Host[] = [world.hot],
): Promise<{ offered: number; ok: number; skipped: number; errors: Record<string, number>; achievedPerSec: number; responseMs: Summary }> {
  const total = Math.max(1, Math.round(rate * durationSec));
  const errors: Record<string, number> = {};
  const responseMs: number[] = [];
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
        JSON.stringify({
          query: SEND_GIFT,
          variables: { i: { giftId: world.gift.id, hostId: host.id, liveSessionId: host.liveSessionId, quantity: 1, expectedUnitCost: world.gift.coinCost, idempotencyKey: randomUUID() } },
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
  /** The gift event's database commit → event parsed by the host's client (see `clock`). */
  commitToSubscriberMs: Summary;
  clock: CommitClock;
  /** sendGift response received → event parsed (the old figure; negative when the event wins the race). */
  responseToSubscriberMs: Summary;
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
      const commit = await commitClock(stack.databaseUrl, committed);
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
        commitToSubscriberMs: summarize(latencies(commit.at, received)),
        clock: commit.clock,
        responseToSubscriberMs: summarize(latencies(committed, received)),
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

/** One side of a fan-out measurement (the project through its gateway, or the anchor), same client code. */
export interface FanoutRun {
  connected: number;
  primed: boolean;
  giftsSent: number;
  expectedMessages: number;
  deliveredMessages: number;
  /** Delivered messages ÷ (first send → last message). */
  messagesPerSec: number;
  /** Commit (see `clock`) → event parsed by the viewer's client. */
  commitToViewerMs: Summary;
  clock: CommitClock;
  /** sendGift (or publish) response → event parsed: the old figure, negative when the event wins the race. */
  responseToViewerMs: Summary;
  viewersWithErrors: number;
  sampleErrors: string[];
  connectSec: number;
  /** CPU per delivered message, by process. */
  cpu: ReturnType<typeof perOperation>;
}

export interface FanoutResult extends FanoutRun {
  /** All viewers, over all rooms. */
  viewers: number;
  rooms: number;
  viewersPerRoom: number;
  /** The viewers' query selects gift name/image/animation (the catalog's fields, resolved by the gateway's plan). */
  catalogFields: boolean;
  /** Gifts per second over all rooms (giftsPerSecPerRoom × rooms). */
  giftsPerSec: number;
  giftsPerSecPerRoom: number;
  durationSec: number;
  /** The anchor (bench/anchor.ts: bare graphql-ws, one execution per event shared by all) in the same run, same client. */
  anchorMessagesPerSec: number | null;
  /** messagesPerSec ÷ anchorMessagesPerSec. */
  projectOverAnchor: number | null;
  anchor: FanoutRun | null;
  /** TCP connections gateway → earnings while the viewers were connected (WebSocket upstreams; HTTP to earnings is idle then). */
  upstreamSockets: number | null;
  /** (gateway RSS with the viewers connected and idle − before they connected) ÷ viewers. */
  gatewayRssKbPerViewer: number | null;
  gatewayRssKb: { before: number | null; idle: number | null };
}

/** What a viewer's app shows. With catalogFields the gateway fetches the gift from the catalog (shared per event). */
export const ROOM_FEED = (catalogFields: boolean) =>
  `subscription Room($room: ID!) { liveGiftFeed(liveSessionId: $room) { id cursor senderName quantity comboCount gift { id${catalogFields ? " name imageUrl animationUrl" : ""} } } }`;

export interface FanoutSpec {
  viewers: number;
  rooms?: number;
  giftsPerSecPerRoom?: number;
  catalogFields: boolean;
}

/** A fan-out target: where viewers connect, and how a gift is sent to a room (its id at "commit"). */
interface Target {
  wsUrl: string;
  cpuGroups: Groups;
  /** Open loop at `rate` gifts/s over all rooms (round robin) for `durationSec`; each committed id with its time. */
  send(rate: number, durationSec: number, committed: Map<string, number>): Promise<unknown>;
  /** Called before the first viewer connects, and with every viewer connected before priming (memory, upstream sockets at rest). */
  beforeConnect?: () => void;
  atRest?: () => Promise<void>;
  /** The commit instants of the ids `send` answered (default: the answers' own stamps). */
  commitClock?: (responded: Map<string, number>) => Promise<{ at: Map<string, number>; clock: CommitClock }>;
}

/** Connects every viewer of every room, primes, sends at the rate for the duration and counts. */
async function drive(target: Target, rooms: { id: string; viewers: Person[] }[], spec: FanoutSpec, p: Profile): Promise<FanoutRun> {
  const received: { id: string; at: number }[] = [];
  target.beforeConnect?.();
  const t0 = performance.now();
  const subs: Viewer[] = [];
  const jobs = rooms.flatMap((r) => r.viewers.map((v) => ({ room: r.id, v })));
  await pool(jobs, 100, async ({ room, v }) => {
    const s = watch(target.wsUrl, v.token, ROOM_FEED(spec.catalogFields), { room }, (id, at) => received.push({ id, at }));
    subs.push(s);
    await s.ready;
  });
  const connectSec = round((performance.now() - t0) / 1000, 2);
  try {
    await target.atRest?.();
    const primed = await prime(target, rooms.length, subs, p.fanoutPrimeSec * 1000);
    await sleep(1000);
    received.length = 0;
    for (const s of subs) s.received = 0;
    const committed = new Map<string, number>();
    const started = performance.now();
    const endCpu = cpuWindow(target.cpuGroups);
    const rate = (spec.giftsPerSecPerRoom ?? p.fanoutGiftsPerSec) * rooms.length;
    await target.send(rate, p.fanoutSec, committed);
    // Round robin over equal rooms: every gift reaches its room's viewers.
    const expected = committed.size * (jobs.length / rooms.length);
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
    const commit = target.commitClock ? await target.commitClock(committed) : { at: committed, clock: "anchor publish" as const };
    return {
      connected: subs.filter((s) => !s.completed).length,
      primed,
      giftsSent: committed.size,
      expectedMessages: expected,
      deliveredMessages: ours,
      messagesPerSec: round(ours / Math.max(0.001, (last - started) / 1000), 0),
      commitToViewerMs: summarize(latencies(commit.at, received)),
      clock: commit.clock,
      responseToViewerMs: summarize(latencies(committed, received)),
      viewersWithErrors: withErrors.length,
      sampleErrors: [...new Set(withErrors.flatMap((s) => s.errors))].slice(0, 5),
      connectSec,
      cpu,
    };
  } finally {
    await pool(subs, 200, (s) => s.dispose());
  }
}

/** Sends probe gifts to every room until every subscriber has received one: then all are registered upstream. */
async function prime(target: Target, rooms: number, subs: { received: number }[], timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    await target.send(20 * rooms, 0.05, new Map());
    if (await waitFor(() => subs.every((s) => s.received > 0), 1000)) return true;
  }
  return false;
}

/** Kilobytes of resident memory of a process (Linux /proc). */
function rssKb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Established TCP connections of process `pid` to local port `port` (Linux /proc). */
function tcpConnectionsTo(pid: number | undefined, port: number): number | null {
  if (!pid) return null;
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    let n = 0;
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text = "";
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue;
      }
      for (const line of text.split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10) continue;
        if (f[3] === "01" && f[2].endsWith(`:${hexPort}`) && inodes.has(f[9])) n++;
      }
    }
    return n;
  } catch {
    return null;
  }
}

/** Open-loop publisher for the anchor: POST /publish at `rate`, rooms round robin; "commit" = the instant the anchor published (it answers with it). */
async function publishAtRate(url: string, rooms: string[], rate: number, durationSec: number, committed: Map<string, number>): Promise<void> {
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

export interface Anchor {
  url: string;
  pid: number;
}

/**
 * Scenario 6: viewers (one graphql-ws connection each) on the public feed of one or more rooms,
 * through the gateway; then the same viewers, query and rate against the anchor, for the ratio.
 */
export async function fanout(stack: BenchStack, world: World, rooms: Host[], viewers: Person[], p: Profile, spec: FanoutSpec, anchor: Anchor | null): Promise<FanoutResult> {
  const perRoom = Math.floor(viewers.length / rooms.length);
  const byRoom = rooms.map((h, i) => ({ host: h, viewers: viewers.slice(i * perRoom, (i + 1) * perRoom) }));
  const gatewayPid = stack.cpuGroups.gateway()[0];
  const earningsPort = Number(new URL(stack.urls.earnings).port);
  let rssBefore: number | null = null;
  let rssIdle: number | null = null;
  let upstreamSockets: number | null = null;
  const project = await drive(
    {
      wsUrl: wsUrl(stack.urls.gateway),
      cpuGroups: stack.cpuGroups,
      send: (rate, sec, committed) => sendAtRate(stack.urls.gateway, world, rate, sec, committed, new Map(), 2000, rooms),
      commitClock: (responded) => commitClock(stack.databaseUrl, responded),
      beforeConnect: () => (rssBefore = rssKb(gatewayPid)),
      atRest: async () => {
        await sleep(2000);
        rssIdle = rssKb(gatewayPid);
        upstreamSockets = tcpConnectionsTo(gatewayPid, earningsPort);
      },
    },
    byRoom.map((r) => ({ id: r.host.liveSessionId, viewers: r.viewers })),
    spec,
    p,
  );
  let anchorRun: FanoutRun | null = null;
  if (anchor) {
    const roomIds = byRoom.map((r) => r.host.liveSessionId);
    anchorRun = await drive(
      {
        wsUrl: anchor.url.replace(/^http/, "ws") + "/graphql",
        cpuGroups: { anchor: () => [anchor.pid] },
        send: (rate, sec, committed) => publishAtRate(`${anchor.url}/publish`, roomIds, rate, sec, committed),
      },
      byRoom.map((r) => ({ id: r.host.liveSessionId, viewers: r.viewers })),
      spec,
      p,
    );
  }
  const viewersTotal = perRoom * rooms.length;
  return {
    viewers: viewersTotal,
    rooms: rooms.length,
    viewersPerRoom: perRoom,
    catalogFields: spec.catalogFields,
    giftsPerSec: (spec.giftsPerSecPerRoom ?? p.fanoutGiftsPerSec) * rooms.length,
    giftsPerSecPerRoom: spec.giftsPerSecPerRoom ?? p.fanoutGiftsPerSec,
    durationSec: p.fanoutSec,
    ...project,
    anchorMessagesPerSec: anchorRun?.messagesPerSec ?? null,
    projectOverAnchor: anchorRun && anchorRun.messagesPerSec > 0 ? round(project.messagesPerSec / anchorRun.messagesPerSec, 3) : null,
    anchor: anchorRun,
    upstreamSockets,
    gatewayRssKbPerViewer: rssIdle !== null && rssBefore !== null && rssIdle > rssBefore ? round(((rssIdle as number) - (rssBefore as number)) / viewersTotal, 1) : null,
    gatewayRssKb: { before: rssBefore, idle: rssIdle },
  };
}
