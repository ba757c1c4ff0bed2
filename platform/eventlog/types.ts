import type { DataSource } from "typeorm";
import type { ConsumerOptions, LoggedEvent, NewEvent } from "../eventlog.js";

export type { ConsumerOptions, LoggedEvent, NewEvent };

/** Events appended but not yet applied by a consumer (GET /consumers). */
export interface ConsumerLag {
  pendingEvents: number;
  /** When the oldest of them was appended (null when none, or when the transport cannot tell). */
  oldestPendingAt: Date | null;
}

/**
 * One consumer of the event log, whatever carries the events. The contract (test/support/eventlog-contract.ts
 * runs it against every transport):
 * - every appended event of its types is handed to `handle` exactly once, inside a transaction whose
 *   commit also records the consumer's position (a crash anywhere loses nothing and doubles nothing);
 * - events with one key are handled in the order they were appended;
 * - instances of one consumer (same name) share its partitions; each partition is worked by one at a time.
 */
export interface EventLogConsumer {
  readonly partitions: number;
  /** Partitions this running instance holds now. */
  readonly claimed: number[];
  /** This instance among the consumer's instances (its PostgreSQL claims connection carries it). */
  readonly instanceId: string;
  /** Batches applied by this instance (tests and metrics). */
  applied: number;
  /** Creates positions (and, for NATS, the stream and durable consumers); idempotent. */
  ensure(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Applies at most one batch over every partition, claimed or not; returns how many events. */
  pollOnce(): Promise<number>;
  /** Applies everything available now (tests, operators). */
  drain(): Promise<number>;
  lag(): Promise<ConsumerLag>;
}

/**
 * The event log. Producers always append to PostgreSQL (appendEvent / EVENT_INSERT in their own
 * transaction: PostgreSQL is the source of truth); the transport decides how events reach consumers.
 */
export interface EventLog {
  readonly transport: "postgres" | "nats";
  consumer<P>(ds: DataSource, opts: ConsumerOptions<P>): EventLogConsumer;
  /** Closes what the transport opened (the NATS connection). */
  close(): Promise<void>;
}
