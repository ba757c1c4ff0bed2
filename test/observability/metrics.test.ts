import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadObservabilityConfig } from "../../platform/config.js";
import { reloadMetricsConfig } from "../../platform/metrics.js";
import { post, startStack, type Stack } from "../support/stack.js";
import { eventually } from "../support/eventually.js";
import { SEND_GIFT, catalogGifts, fund, goLive, key, sendGift, viewerToken } from "../gifting/support.js";
import { scrape, valueOf } from "./prom.js";

const OPERATION_CAP = 20;
let stack: Stack;
let urls: Record<"gateway" | "wallet" | "catalog" | "earnings", string>;

beforeAll(async () => {
  // A small cap on operation-name labels, so the test can show what happens beyond it.
  reloadMetricsConfig({ ...loadObservabilityConfig({}), maxOperationLabels: OPERATION_CAP });
  stack = await startStack("metrics");
  urls = { gateway: stack.gateway.url, wallet: stack.subgraphs.wallet.url, catalog: stack.subgraphs.catalog.url, earnings: stack.subgraphs.earnings.url };
});
afterAll(async () => {
  await stack?.stop();
  reloadMetricsConfig();
});

describe("GET /metrics on every service", () => {
  it("answers Prometheus text with the request, error, pool, lag, stream and queue families", async () => {
    await stack.gql(`query Warmup { gifts { id } coinPackages(region: "US") { id } }`);
    for (const [service, url] of Object.entries(urls)) {
      const m = await scrape(url);
      expect(m.status, service).toBe(200);
      expect(m.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      expect(m.types.get("graphql_requests_total")).toBe("counter");
      expect(m.types.get("graphql_request_duration_seconds")).toBe("histogram");
      expect(m.types.get("graphql_errors_total")).toBe("counter");
      expect(m.types.get("process_cpu_seconds_total")).toBe("counter");
      expect(m.types.get("nodejs_eventloop_lag_seconds")).toBe("gauge");
    }
    const wallet = await scrape(urls.wallet);
    for (const service of ["wallet", "catalog", "earnings"]) {
      expect(wallet.samples.some((s) => s.name === "db_pool_connections" && s.labels.service === service && s.labels.state === "idle"), service).toBe(true);
      expect(valueOf(wallet.samples, "db_pool_max_connections", { service })).toBe(8); // startStack's poolSize
      expect(valueOf(wallet.samples, "db_pool_acquire_seconds_count", { service })).toBeGreaterThan(0);
      expect(wallet.samples.some((s) => s.name === "db_pool_waiting_clients" && s.labels.service === service)).toBe(true);
    }
    const earnings = await scrape(urls.earnings);
    const e = { service: "earnings" };
    expect(earnings.samples.some((s) => s.name === "eventlog_pending_events" && s.labels.consumer === "earnings-gift-credits")).toBe(true);
    expect(earnings.samples.some((s) => s.name === "eventlog_lag_seconds" && s.labels.consumer === "earnings-gift-credits")).toBe(true);
    expect(earnings.samples.some((s) => s.name === "stream_rooms" && s.labels.kind === "session" && s.labels.service === "earnings")).toBe(true);
    expect(earnings.types.get("stream_room_subscribers")).toBe("histogram");
    expect(earnings.samples.some((s) => s.name === "stream_send_queue_items" && s.labels.service === "earnings")).toBe(true);
    expect(earnings.samples.some((s) => s.name === "stream_slow_consumers_total" && s.labels.service === "earnings")).toBe(true);
    expect(earnings.samples.some((s) => s.name === "payout_queue_payouts" && s.labels.status === "REQUESTED")).toBe(true);
    expect(earnings.samples.some((s) => s.name === "webhook_subscriptions" && s.labels.status === "ENABLED")).toBe(true);
    expect(valueOf(earnings.samples, "webhook_backlog_events", e)).toBe(0);
    const gateway = await scrape(urls.gateway);
    expect(gateway.samples.some((s) => s.name === "ws_connections" && s.labels.service === "gateway" && s.labels.endpoint === "/graphql")).toBe(true);
    expect(gateway.samples.some((s) => s.name === "graphql_subscriptions" && s.labels.service === "gateway")).toBe(true);
    expect(gateway.samples.some((s) => s.name === "stream_slow_consumers_total" && s.labels.service === "gateway")).toBe(true);
  });

  it("never labels a series with a user id", async () => {
    await fund(stack, "metrics-user-7f3a", 30);
    const m = await scrape(urls.gateway);
    expect(m.text).not.toContain("metrics-user-7f3a");
  });
});

describe("request counters", () => {
  it("a request through the gateway counts its operation name and outcome at the gateway, and its subgraph fetch at the subgraph", async () => {
    const before = await scrape(urls.gateway);
    const labels = { service: "gateway", operation: "MetricsGifts", outcome: "ok" };
    const res = await stack.gql(`query MetricsGifts { gifts { id name } }`);
    expect(res.errors).toBeUndefined();
    const after = await scrape(urls.gateway);
    expect(valueOf(after.samples, "graphql_requests_total", labels) - valueOf(before.samples, "graphql_requests_total", labels)).toBe(1);
    expect(valueOf(after.samples, "graphql_request_duration_seconds_count", labels) - valueOf(before.samples, "graphql_request_duration_seconds_count", labels)).toBe(1);
    // The gateway names its subgraph operations after the client's: the catalog counted one too.
    expect(after.samples.some((s) => s.name === "graphql_requests_total" && s.labels.service === "catalog" && s.labels.operation.startsWith("MetricsGifts__catalog"))).toBe(true);
  });

  it("an error increments errors by code and counts the request as an error", async () => {
    const before = await scrape(urls.gateway);
    const res = await stack.gql(`query MetricsMine { me { id wallet { coins } } }`, {}, "not-a-token");
    expect(res.errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    const after = await scrape(urls.gateway);
    const code = { service: "gateway", code: "UNAUTHENTICATED" };
    expect(valueOf(after.samples, "graphql_errors_total", code) - valueOf(before.samples, "graphql_errors_total", code)).toBe(1);
    const failed = { service: "gateway", operation: "unknown", outcome: "error" };
    expect(valueOf(after.samples, "graphql_requests_total", failed) - valueOf(before.samples, "graphql_requests_total", failed)).toBe(1);
  });

  it("a request refused before GraphQL runs counts as refused with its code", async () => {
    const before = await scrape(urls.gateway);
    const res = await fetch(stack.gateway.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: `{ gifts { id } }`, pad: "x".repeat(300 * 1024) }) });
    expect(res.status).toBe(413);
    const after = await scrape(urls.gateway);
    const refused = { service: "gateway", operation: "unknown", outcome: "refused" };
    expect(valueOf(after.samples, "graphql_requests_total", refused) - valueOf(before.samples, "graphql_requests_total", refused)).toBe(1);
    const code = { service: "gateway", code: "PAYLOAD_TOO_LARGE" };
    expect(valueOf(after.samples, "graphql_errors_total", code) - valueOf(before.samples, "graphql_errors_total", code)).toBe(1);
  });

  it("anonymous operations count as unnamed, unparsable ones as unknown, and names beyond the cap as other", async () => {
    await stack.gql(`{ gifts { id } }`);
    await stack.gql(`query Broken { gifts { id `);
    for (let i = 0; i < OPERATION_CAP + 5; i++) await stack.gql(`query Flood${i} { gifts { id } }`);
    const m = await scrape(urls.gateway);
    const ops = new Set(m.samples.filter((s) => s.name === "graphql_requests_total" && s.labels.service === "gateway").map((s) => s.labels.operation));
    expect(ops.has("unnamed")).toBe(true);
    expect(ops.has("unknown")).toBe(true);
    expect(ops.has("other")).toBe(true);
    // The label set is bounded: the cap plus the three fixed values.
    expect(ops.size).toBeLessThanOrEqual(OPERATION_CAP + 3);
  });
});

describe("event lag", () => {
  it("the consumer's pending events and lag rise while gifts wait to be credited, and fall back to zero once credited", async () => {
    const gifts = await catalogGifts(stack);
    const rose = gifts.get("rose")!;
    await goLive(stack, "metrics-host");
    await fund(stack, "metrics-sender", 100);
    const token = await viewerToken(stack, "metrics-sender");
    const credits = stack.subgraphs.earnings.services.credits;
    const labels = { service: "earnings", consumer: "earnings-gift-credits" };
    const creditedBefore = valueOf((await scrape(urls.earnings)).samples, "event_lag_seconds_count", { service: "earnings", stage: "credited" });
    await credits.stop();
    try {
      for (let i = 0; i < 3; i++) {
        const { payload } = await sendGift(stack, token, { giftId: rose.id, hostId: "metrics-host", idempotencyKey: key("lag") });
        expect(payload?.userErrors).toEqual([]);
      }
      await eventually(async () => {
        const m = await scrape(urls.earnings);
        expect(valueOf(m.samples, "eventlog_pending_events", labels)).toBe(3);
        expect(valueOf(m.samples, "eventlog_lag_seconds", labels)).toBeGreaterThan(0);
      });
    } finally {
      await credits.start();
    }
    await eventually(async () => {
      const m = await scrape(urls.earnings);
      expect(valueOf(m.samples, "eventlog_pending_events", labels)).toBe(0);
      expect(valueOf(m.samples, "eventlog_lag_seconds", labels)).toBe(0);
      expect(valueOf(m.samples, "event_lag_seconds_count", { service: "earnings", stage: "credited" }) - creditedBefore).toBe(3);
    });
  });
});

describe("sendGift group commit", () => {
  const q = { service: "wallet", queue: "send_gifts" };
  const families = ["group_commit_batches_total", "group_commit_items_total", "group_commit_retries_total", "group_commit_failed_batches_total", "group_commit_split_batches_total"];

  it("the wallet's /metrics counts batches, sends, retries, failures and splits, with batch sizes, time queued per send, queued sends and running batches", async () => {
    const rose = (await catalogGifts(stack)).get("rose")!;
    await goLive(stack, "batch-host");
    const senders = ["batch-a", "batch-b", "batch-c"];
    const tokens = await Promise.all(senders.map(async (s) => (await fund(stack, s, 30), viewerToken(stack, s))));
    const before = (await scrape(urls.wallet)).samples;
    const results = await Promise.all(
      [...tokens, ...tokens].map((token) => sendGift(stack, token, { giftId: rose.id, hostId: "batch-host", idempotencyKey: key("batch") })),
    );
    for (const { payload } of results) expect(payload?.userErrors).toEqual([]);
    const m = await scrape(urls.wallet);
    const delta = (name: string) => valueOf(m.samples, name, q) - valueOf(before, name, q);
    expect(m.types.get("group_commit_batch_size")).toBe("histogram");
    expect(m.types.get("group_commit_queued_seconds")).toBe("histogram");
    for (const name of families) expect(m.types.get(name), name).toBe("counter");
    expect(m.types.get("group_commit_queued_items")).toBe("gauge");
    expect(m.types.get("group_commit_in_flight_batches")).toBe("gauge");
    expect(delta("group_commit_items_total")).toBe(6);
    expect(delta("group_commit_batches_total")).toBeGreaterThanOrEqual(1);
    expect(delta("group_commit_batch_size_count")).toBe(delta("group_commit_batches_total"));
    expect(delta("group_commit_batch_size_sum")).toBe(6);
    expect(delta("group_commit_queued_seconds_count")).toBe(6);
    // The counters say what SendBatcher.stats() says (this process runs one wallet).
    const stats = stack.subgraphs.wallet.services.gifting.batches.stats();
    expect(valueOf(m.samples, "group_commit_batches_total", q)).toBe(stats.batches);
    expect(valueOf(m.samples, "group_commit_items_total", q)).toBe(stats.items);
    expect(valueOf(m.samples, "group_commit_retries_total", q)).toBe(stats.retries);
    expect(valueOf(m.samples, "group_commit_failed_batches_total", q)).toBe(stats.failed);
    expect(valueOf(m.samples, "group_commit_split_batches_total", q)).toBe(stats.split);
    // Every send answered: nothing queued or running once the scrape samples again (at most once a second).
    await eventually(async () => {
      const now = await scrape(urls.wallet);
      expect(now.samples.some((s) => s.name === "group_commit_queued_items" && s.labels.queue === "send_gifts")).toBe(true);
      expect(valueOf(now.samples, "group_commit_queued_items", q)).toBe(0);
      expect(valueOf(now.samples, "group_commit_in_flight_batches", q)).toBe(0);
    });
  });
});

describe("tracing off (the default)", () => {
  it("records no spans, yet a client's traceparent passes through the gateway and the wallet into the gift.sent event unchanged", async () => {
    const rose = (await catalogGifts(stack)).get("rose")!;
    await fund(stack, "passthrough-sender", 30);
    const token = await viewerToken(stack, "passthrough-sender");
    const traceparent = `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`;
    const res = await post(stack.gateway.url, SEND_GIFT, { input: { giftId: rose.id, hostId: "metrics-host", idempotencyKey: key("pass") } }, { token, headers: { traceparent } });
    expect(res.data.sendGift.userErrors).toEqual([]);
    const [event] = await stack.subgraphs.wallet.dataSource.query(`SELECT payload FROM eventlog.events WHERE event_id = $1`, [res.data.sendGift.giftEvent.id]);
    expect(event.payload.traceparent).toBe(traceparent);
  });
});
