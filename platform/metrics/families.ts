import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/**
 * Every metric family of the process, in ONE registry (platform/metrics.ts says how they are
 * labelled and fed). Families are created once, when this module loads.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];
const ROOM_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000];
/** Up to SEND_BATCH_MAX_SIZE's 64 by powers of two, and beyond for larger settings. */
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256];
/** A send waits for a free slot (one batch's run, about a millisecond) or for SEND_BATCH_MAX_WAIT_MS. */
const QUEUED_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

const r = [registry];
export const m = {
  requests: new Counter({ name: "graphql_requests_total", help: "GraphQL operations by operation name and outcome (ok, error, refused)", labelNames: ["service", "operation", "outcome"], registers: r }),
  duration: new Histogram({ name: "graphql_request_duration_seconds", help: "GraphQL operation latency", labelNames: ["service", "operation", "outcome"], buckets: LATENCY_BUCKETS, registers: r }),
  errors: new Counter({ name: "graphql_errors_total", help: "GraphQL errors by extensions.code (business userErrors are data, not counted here)", labelNames: ["service", "code"], registers: r }),
  poolConnections: new Gauge({ name: "db_pool_connections", help: "Database pool connections by state (busy, idle)", labelNames: ["service", "state"], registers: r }),
  poolMax: new Gauge({ name: "db_pool_max_connections", help: "Database pool size (DB_POOL_SIZE)", labelNames: ["service"], registers: r }),
  poolWaiting: new Gauge({ name: "db_pool_waiting_clients", help: "Requests waiting for a free database connection", labelNames: ["service"], registers: r }),
  poolAcquire: new Histogram({ name: "db_pool_acquire_seconds", help: "Time to get a database connection from the pool (waits included)", labelNames: ["service"], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5], registers: r }),
  poolTimeouts: new Counter({ name: "db_pool_acquire_timeouts_total", help: "Connection requests that gave up after DB_CONNECT_TIMEOUT_MS", labelNames: ["service"], registers: r }),
  pending: new Gauge({ name: "eventlog_pending_events", help: "Events in the log not yet applied by the consumer", labelNames: ["service", "consumer"], registers: r }),
  lag: new Gauge({ name: "eventlog_lag_seconds", help: "Age of the oldest event the consumer has not applied (0 when caught up)", labelNames: ["service", "consumer"], registers: r }),
  eventLag: new Histogram({ name: "event_lag_seconds", help: "Time from a gift's commit (outbox) to the stage: credited (diamonds), delivered (handed to stream subscribers)", labelNames: ["service", "stage"], buckets: LAG_BUCKETS, registers: r }),
  sockets: new Gauge({ name: "ws_connections", help: "Open WebSocket connections by endpoint", labelNames: ["service", "endpoint"], registers: r }),
  subscriptions: new Gauge({ name: "graphql_subscriptions", help: "Active subscriptions", labelNames: ["service"], registers: r }),
  upstreamSockets: new Gauge({ name: "ws_upstream_sockets", help: "Gateway sockets to subgraph streams", labelNames: ["service"], registers: r }),
  rooms: new Gauge({ name: "stream_rooms", help: "Rooms (host streams, live-session feeds) with at least one subscriber", labelNames: ["service", "kind"], registers: r }),
  roomSize: new Histogram({ name: "stream_room_subscribers", help: "Rooms by subscriber count, sampled at scrape time (a distribution, never a label per room)", labelNames: ["service", "kind"], buckets: ROOM_BUCKETS, registers: r }),
  roomMax: new Gauge({ name: "stream_room_max_subscribers", help: "Subscribers of the largest room", labelNames: ["service", "kind"], registers: r }),
  sendQueue: new Gauge({ name: "stream_send_queue_items", help: "Events queued for subscribers, all subscribers together", labelNames: ["service"], registers: r }),
  sendQueueMax: new Gauge({ name: "stream_send_queue_max_items", help: "Events queued for the most backlogged subscriber", labelNames: ["service"], registers: r }),
  slow: new Counter({ name: "stream_slow_consumers_total", help: "Subscriptions ended with SLOW_CONSUMER", labelNames: ["service"], registers: r }),
  webhookSubs: new Gauge({ name: "webhook_subscriptions", help: "Partner webhook subscriptions by status (failing: ENABLED with a failing receiver)", labelNames: ["service", "status"], registers: r }),
  webhookBacklog: new Gauge({ name: "webhook_backlog_events", help: "Webhook events not yet delivered to ENABLED subscriptions (upper bound: log distance)", labelNames: ["service"], registers: r }),
  webhookAttempts: new Counter({ name: "webhook_attempts_total", help: "Webhook delivery attempts by this process, by result", labelNames: ["service", "result"], registers: r }),
  payouts: new Gauge({ name: "payout_queue_payouts", help: "Payouts waiting (REQUESTED) or submitted and unfinished (PROCESSING)", labelNames: ["service", "status"], registers: r }),
  // Group commit (platform/group-commit.ts; the wallet's sendGift batches: queue="send_gifts"). Counted as batches run;
  // queued items and running batches sampled at scrape time.
  batchSize: new Histogram({ name: "group_commit_batch_size", help: "Items per batch, observed when a batch's first run starts", labelNames: ["service", "queue"], buckets: BATCH_SIZE_BUCKETS, registers: r }),
  batchQueued: new Histogram({ name: "group_commit_queued_seconds", help: "Per item: time from submit to the start of its batch's first run", labelNames: ["service", "queue"], buckets: QUEUED_BUCKETS, registers: r }),
  batches: new Counter({ name: "group_commit_batches_total", help: "Batches run to completion (the retries of one batch count once)", labelNames: ["service", "queue"], registers: r }),
  batchItems: new Counter({ name: "group_commit_items_total", help: "Items answered by a completed batch", labelNames: ["service", "queue"], registers: r }),
  batchRetries: new Counter({ name: "group_commit_retries_total", help: "Batch runs repeated after a transient failure", labelNames: ["service", "queue"], registers: r }),
  batchFailures: new Counter({ name: "group_commit_failed_batches_total", help: "Batches rejected as a whole after their last attempt (every item answered with the error)", labelNames: ["service", "queue"], registers: r }),
  batchSplits: new Counter({ name: "group_commit_split_batches_total", help: "Batches re-run item by item after a non-transient failure", labelNames: ["service", "queue"], registers: r }),
  batchQueuedItems: new Gauge({ name: "group_commit_queued_items", help: "Items waiting for a batch, sampled at scrape time", labelNames: ["service", "queue"], registers: r }),
  batchesInFlight: new Gauge({ name: "group_commit_in_flight_batches", help: "Batches running, sampled at scrape time", labelNames: ["service", "queue"], registers: r }),
  sampleErrors: new Counter({ name: "metrics_sample_errors_total", help: "Samplers that failed or timed out during a scrape", labelNames: ["service"], registers: r }),
};
