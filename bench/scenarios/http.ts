import type { BenchStack } from "../lib/stack.js";
import { graphqlCheck, load, serialLatency, type LoadResult } from "../lib/load.js";
import { round, type Summary } from "../lib/stats.js";
import { sendGiftRequests, type World } from "../lib/world.js";
import type { Profile } from "../profile.js";
import os from "node:os";
import { cpuWindow, perOperation, postgresByClientWindow } from "../lib/cpu.js";
import { signedHeaders } from "../lib/service.js";
import { creditsDrained } from "../lib/credits.js";

/** Runs a load while accounting the CPU each process spent on it (and, with `after`, on what it left to do). */
async function measured(stack: BenchStack, opts: Parameters<typeof load>[0], after?: () => Promise<unknown>): Promise<LoadResult & { cpu: MeasuredCpu }> {
  const endPg = await postgresByClientWindow(stack.databaseUrl);
  const end = cpuWindow(stack.cpuGroups);
  const r = await load(opts);
  await after?.();
  const cpu = perOperation(end(), r.ok, os.cpus().length);
  return { ...r, cpu: { ...cpu, postgresByClientMsPerOperation: perClient(await endPg(), r.ok) } };
}

type MeasuredCpu = ReturnType<typeof perOperation> & {
  /** PostgreSQL's share of cpuMsPerOperation, by the service whose connections ran it (wallet: sendGift's batches; earnings: the credit consumer). */
  postgresByClientMsPerOperation: Record<string, number>;
};

const perClient = (ms: Record<string, number>, operations: number) =>
  Object.fromEntries(Object.entries(ms).map(([k, v]) => [k, operations > 0 ? round(v / operations, 3) : 0]));

const GIFTS = JSON.stringify({ query: `query Gifts { gifts(region: "US") { id name coinCost imageUrl animationUrl streakable category } }` });

export interface ReadResult {
  query: string;
  connections: number;
  gateway: LoadResult;
  catalog: LoadResult;
  /** gateway req/s ÷ catalog req/s under the same closed-loop load. */
  throughputRatio: number;
  /** One request in flight (no queueing): p50/p99 each way and the gateway's added time. */
  serial: { gateway: Summary; catalog: Summary; overheadP50Ms: number | null; overheadP99Ms: number | null; latencyRatioP50: number | null };
}

/** Scenario 1: `gifts` through the gateway vs straight to the catalog subgraph. */
export async function readGifts(stack: BenchStack, p: Profile): Promise<ReadResult> {
  const check = graphqlCheck();
  const body = () => ({ body: GIFTS });
  // Straight to the catalog, signed as the gateway signs (the catalog answers only signed callers).
  const signed = await signedHeaders(stack.serviceSecret, "catalog");
  const direct = () => ({ body: GIFTS, headers: signed.get() });
  // Warm both paths (JIT, plan cache, pools) before anything is recorded.
  await load({ url: stack.urls.gateway, connections: p.readConnections, durationSec: p.warmupSec, request: body, check });
  await load({ url: stack.urls.catalog, connections: p.readConnections, durationSec: p.warmupSec, request: direct, check });
  const gateway = await measured(stack, { url: stack.urls.gateway, connections: p.readConnections, durationSec: p.readSec, request: body, check });
  const catalog = await measured(stack, { url: stack.urls.catalog, connections: p.readConnections, durationSec: p.readSec, request: direct, check });
  const sg = await serialLatency(stack.urls.gateway, GIFTS, p.serialRequests);
  const sc = await serialLatency(stack.urls.catalog, GIFTS, p.serialRequests, signed.get);
  signed.stop();
  return {
    query: "gifts(region) { id name coinCost imageUrl animationUrl streakable category }",
    connections: p.readConnections,
    gateway,
    catalog,
    throughputRatio: round(gateway.okPerSec / Math.max(1, catalog.okPerSec), 3),
    serial: {
      gateway: sg,
      catalog: sc,
      overheadP50Ms: sg.p50 !== null && sc.p50 !== null ? round(sg.p50 - sc.p50, 3) : null,
      overheadP99Ms: sg.p99 !== null && sc.p99 !== null ? round(sg.p99 - sc.p99, 3) : null,
      latencyRatioP50: sg.p50 !== null && sc.p50 ? round(sg.p50 / sc.p50, 3) : null,
    },
  };
}

const CROSS = `query Cross($host: ID!, $gift: ID!) {
  me { id wallet { coins transactions(first: 10) { edges { node { type amount balanceAfter reference createdAt } } } } }
  creator(id: $host) {
    displayName lifetimeDiamonds giftsReceived
    currentLiveSession { title giftCount coinsReceived uniqueGifters topGifters(first: 5) { rank coins sender { id } } }
    topGifters(first: 5, period: ALL_TIME) { rank coins gifts sender { id } }
  }
  gift(id: $gift) { id name coinCost imageUrl }
}`;

/** Scenario 2: one read that needs all three subgraphs (wallet, earnings, catalog) and entity joins. */
export async function readCross(stack: BenchStack, world: World, p: Profile): Promise<{ query: string; connections: number; result: LoadResult; serial: Summary }> {
  let i = 0;
  const request = () => {
    const s = world.senders[i++ % world.senders.length];
    return { body: JSON.stringify({ query: CROSS, variables: { host: world.hot.id, gift: world.gift.id } }), headers: { authorization: s.authorization } };
  };
  const check = graphqlCheck();
  await load({ url: stack.urls.gateway, connections: p.readConnections, durationSec: p.warmupSec, request, check });
  const result = await measured(stack, { url: stack.urls.gateway, connections: p.readConnections, durationSec: p.readSec, request, check });
  const serial = await serialLatency(stack.urls.gateway, request().body, p.serialRequests, { authorization: world.senders[0].authorization });
  return { query: "me { wallet { coins transactions } } + creator { leaderboards, live session } + gift (wallet, earnings, catalog)", connections: p.readConnections, result, serial };
}

export interface SendResult {
  senders: number;
  hosts: number;
  connections: number;
  result: LoadResult;
  /** From the load's end until the earnings consumer had credited every gift (ms; in the CPU window). */
  creditDrainMs: number;
}

/** Scenarios 3 and 4: sendGift through the gateway, closed loop, 200 senders → N hosts. */
export async function sendGifts(stack: BenchStack, world: World, p: Profile, mode: "spread" | "hot"): Promise<SendResult> {
  let h = 0;
  const hostsFor = mode === "hot" ? () => world.hot : () => world.hosts[h++ % world.hosts.length];
  const request = sendGiftRequests(world, hostsFor);
  const check = graphqlCheck("sendGift");
  await load({ url: stack.urls.gateway, connections: p.sendConnections, durationSec: p.warmupSec, request, check });
  // The window starts from a drained log and ends when the consumer has credited every gift sent in it.
  await creditsDrained(stack.databaseUrl);
  let creditDrainMs = 0;
  const result = await measured(stack, { url: stack.urls.gateway, connections: p.sendConnections, durationSec: p.sendSec, request, check }, async () => {
    creditDrainMs = await creditsDrained(stack.databaseUrl);
  });
  return { senders: world.senders.length, hosts: mode === "hot" ? 1 : world.hosts.length, connections: p.sendConnections, result, creditDrainMs };
}
