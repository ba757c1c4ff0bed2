import "reflect-metadata";
import { EarningsFeedBus } from "../../gateway/subscriptions/feed-bus-earnings.js";
import { NatsFeedBus } from "../../gateway/subscriptions/feed-bus-nats.js";
import { feedBusContract } from "../support/feedbus-contract.js";
import { deleteStreams, isolated, natsEnv } from "./support.js";

/**
 * The feed-bus contract over NATS (`npm run test:nats`; the PostgreSQL run is test/stream/feedbus-contract.test.ts):
 * the earnings server runs with NATS_URL (its feed relay publishes the room rows to the run's own
 * subjects), each gateway's bus subscribes to the room's subject and replays from earnings' stream
 * what its tail cannot give.
 */
const opts = isolated("feedbus");

feedBusContract({
  name: "nats",
  earningsEnv: natsEnv(opts),
  open: (earnings, stats) => new NatsFeedBus({ url: opts.url, feedSubjectPrefix: opts.feedSubjectPrefix }, new EarningsFeedBus(earnings, stats), stats),
  live: (bus) => (bus as NatsFeedBus).flushed(),
  tailOnEarnings: false,
  brokerSubscriptions: (bus) => (bus as NatsFeedBus).openSubscriptions(),
  cleanup: () => deleteStreams(opts),
});

