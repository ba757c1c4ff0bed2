import os from "node:os";
import { subscribe, wsUrlOf } from "../lib/client.js";
import { commitClock, latencies, type CommitClock } from "../lib/commit-clock.js";
import { cpuWindow, perOperation } from "../lib/cpu.js";
import { sendAtRate } from "../lib/open-loop.js";
import type { BenchStack } from "../lib/stack.js";
import { sleep, summarize, type Summary } from "../lib/stats.js";
import { primeSubscribers, waitWhileProgressing } from "../lib/waits.js";
import type { World } from "../lib/world.js";
import type { Profile } from "../profile.js";

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
  /** How late the open-loop sender fired each send against its slot (a starved load generator sends in bursts). */
  senderLateMs: Summary;
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
  const host = subscribe(wsUrlOf(stack.urls.gateway), world.hot.token, HOST_STREAM, { host: world.hot.id }, (v, at) => received.push({ id: v.id, at }));
  try {
    const probe = new Map<string, number>();
    if (!(await primeSubscribers(() => sendAtRate(stack.urls.gateway, world, 20, 0.05, probe), [host], 30_000))) throw new Error(`host subscription never delivered: ${host.errors.join("; ")}`);
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
        senderLateMs: send.lateMs,
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
