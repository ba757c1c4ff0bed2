import { EarningsFeedBus } from "../../gateway/subscriptions/feed-bus-earnings.js";
import { feedBusContract } from "../support/feedbus-contract.js";

/** The feed-bus contract against the default bus, earnings' stream over PostgreSQL (the NATS run: test/nats/feedbus-contract.test.ts). */
feedBusContract({
  name: "postgres",
  // Whatever the shell says: this run is PostgreSQL only.
  earningsEnv: { NATS_URL: "" },
  open: (earnings, stats) => new EarningsFeedBus(earnings, stats),
  live: async () => undefined,
  tailOnEarnings: true,
  brokerSubscriptions: () => 0,
});
