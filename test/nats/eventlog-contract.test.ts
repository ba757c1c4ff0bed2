import { PostgresEventLog } from "../../platform/eventlog/postgres.js";
import { eventLogContract } from "../support/eventlog-contract.js";
import { isolated, natsTransport } from "./support.js";

/** One contract, both transports side by side (`npm run test:nats`; the PostgreSQL leg also runs under `npm test`). */
eventLogContract({
  name: "postgres",
  open: () => new PostgresEventLog(),
  background: async () => ({ stop: async () => undefined, idle: async () => true }),
  crash: async () => undefined,
});
eventLogContract(natsTransport(isolated("contract")));
