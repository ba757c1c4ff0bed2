import type { EventTransportConfig } from "../config.js";
import { NatsEventLog } from "./nats.js";
import { PostgresEventLog } from "./postgres.js";
import type { EventLog } from "./types.js";

export type { EventLog, EventLogConsumer, ConsumerLag } from "./types.js";
export { NatsEventLog, OutboxRelay } from "./nats.js";
export { PostgresEventLog } from "./postgres.js";

/** The event log this process uses: NATS JetStream when NATS_URL is set, the PostgreSQL outbox otherwise. */
export function openEventLog(config: EventTransportConfig, name = "eventlog"): EventLog {
  if (!config.natsUrl) return new PostgresEventLog();
  return new NatsEventLog({ url: config.natsUrl, stream: config.stream, duplicateWindowMs: config.duplicateWindowMs, maxAgeMs: config.maxAgeMs, ackWaitMs: config.ackWaitMs, subjectPrefix: config.subjectPrefix, feedSubjectPrefix: config.feedSubjectPrefix, name });
}
