import type { DataSource } from "typeorm";
import { EventConsumer, type ConsumerOptions } from "../eventlog.js";
import type { EventLog, EventLogConsumer } from "./types.js";

/** The embedded default: consumers read the outbox itself (EventConsumer, platform/eventlog.ts). */
export class PostgresEventLog implements EventLog {
  readonly transport = "postgres" as const;

  consumer<P>(ds: DataSource, opts: ConsumerOptions<P>): EventLogConsumer & EventConsumer<P> {
    return new EventConsumer<P>(ds, opts);
  }

  async close(): Promise<void> {}
}
