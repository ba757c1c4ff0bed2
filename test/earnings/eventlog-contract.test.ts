import { PostgresEventLog } from "../../platform/eventlog/postgres.js";
import { eventLogContract } from "../support/eventlog-contract.js";

/** The event-log contract against the embedded default (the NATS run: test/nats/eventlog-contract.test.ts). */
eventLogContract({
  name: "postgres",
  open: () => new PostgresEventLog(),
  background: async () => ({ stop: async () => undefined, idle: async () => true }),
  crash: async () => undefined,
});
