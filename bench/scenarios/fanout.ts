import os from "node:os";
import { pool, wsUrlOf } from "../lib/client.js";
import { commitClock, latencies, type CommitClock } from "../lib/commit-clock.js";
import { cpuWindow, perOperation, type Groups } from "../lib/cpu.js";
import { publishAtRate, sendAtRate } from "../lib/open-loop.js";
import { rssKb, tcpConnectionsTo } from "../lib/proc.js";
import type { BenchStack } from "../lib/stack.js";
import { round, sleep, summarize, type Summary } from "../lib/stats.js";
import { watch, type Viewer } from "../lib/viewer.js";
import { primeSubscribers, waitWhileProgressing } from "../lib/waits.js";
import type { Host, Person, World } from "../lib/world.js";
import type { Profile } from "../profile.js";

/** Live-stream fan-out through the gateway's graphql-ws endpoint (latency: scenarios/delivery.ts says how it is clocked). */

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
    const primed = await primeSubscribers(() => target.send(20 * rooms.length, 0.05, new Map()), subs, p.fanoutPrimeSec * 1000);
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
      wsUrl: wsUrlOf(stack.urls.gateway),
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
