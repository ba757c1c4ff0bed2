import type { Sample } from "../platform/metrics.js";
import type { SubscriptionGateway } from "./subscriptions/server.js";

/**
 * The gateway's state for /metrics, read from the subscription servers' own `stats` counters and
 * connection counts (nothing here reaches into their internals, which change independently).
 * Rooms and per-subscriber send queues are measured where the rooms live: the earnings stream.
 */
export function gatewaySample(endpoints: { endpoint: string; subscriptions: SubscriptionGateway | null }[]): Sample {
  const sample: Sample = { sockets: [], subscriptions: 0, upstreamSockets: 0, slowConsumersTotal: 0 };
  for (const { endpoint, subscriptions: s } of endpoints) {
    if (!s) continue;
    sample.sockets!.push({ endpoint, open: s.connections });
    sample.subscriptions! += s.stats.subscriptions;
    sample.upstreamSockets! += s.stats.upstreamSockets;
    sample.slowConsumersTotal! += s.stats.slowClosed;
  }
  return sample;
}
