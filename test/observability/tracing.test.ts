import "reflect-metadata";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { initTracing } from "../../platform/tracing.js";
import { post, startStack, type Stack } from "../support/stack.js";
import { eventually } from "../support/eventually.js";
import { SEND_GIFT, catalogGifts, fund, goLive, key, viewerToken } from "../gifting/support.js";
import { subscribe, wsUrl } from "../stream/helpers.js";

const exporter = new InMemorySpanExporter();
let stack: Stack;

beforeAll(async () => {
  // Spans are recorded in memory: no exporter, no network (the first initTracing in a process decides).
  await initTracing({ service: "test", spanProcessor: new SimpleSpanProcessor(exporter) });
  stack = await startStack("tracing");
});
afterAll(async () => {
  await stack?.stop();
});

function clientTrace() {
  const traceId = randomBytes(16).toString("hex");
  const spanId = randomBytes(8).toString("hex");
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
/** Span ids from `s` up to the root of its trace (the gateway adds its own gateway.* spans in between). */
function ancestry(s: ReadableSpan, all: ReadableSpan[]): string[] {
  const chain: string[] = [];
  for (let p = parentOf(s); p; p = parentOf(all.find((x) => x.spanContext().spanId === p) ?? ({} as ReadableSpan))) {
    chain.push(p);
    if (!all.some((x) => x.spanContext().spanId === p)) break;
  }
  return chain;
}
const spansOf = (traceId: string) => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);

describe("W3C traceparent from the client", () => {
  it("reaches the subgraph: client → gateway server span → subgraph fetch client span → catalog server span, one trace", async () => {
    const client = clientTrace();
    const res = await post(stack.gateway.url, `query TracedGifts { gifts { id } }`, {}, { headers: { traceparent: client.traceparent } });
    expect(res.errors).toBeUndefined();
    const spans = await eventually(async () => {
      const s = spansOf(client.traceId);
      expect(s.find((x) => x.attributes["service.component"] === "catalog")).toBeDefined();
      return s;
    });
    const gateway = spans.find((s) => s.attributes["service.component"] === "gateway")!;
    expect(gateway.name).toBe("query TracedGifts");
    expect(parentOf(gateway)).toBe(client.spanId);
    const fetch = spans.find((s) => s.name === "POST catalog")!;
    expect(ancestry(fetch, spans)).toContain(gateway.spanContext().spanId);
    expect(ancestry(fetch, spans).at(-1)).toBe(client.spanId);
    const catalog = spans.find((s) => s.attributes["service.component"] === "catalog")!;
    expect(parentOf(catalog)).toBe(fetch.spanContext().spanId);
    expect(catalog.attributes["graphql.operation.name"]).toMatch(/^TracedGifts__catalog/);
  });

  it("an error marks the request span with its code", async () => {
    const client = clientTrace();
    await post(stack.gateway.url, `query TracedMe { me { id } }`, {}, { token: "bad", headers: { traceparent: client.traceparent } });
    const span = await eventually(async () => {
      const s = spansOf(client.traceId).find((x) => x.attributes["service.component"] === "gateway");
      expect(s).toBeDefined();
      return s!;
    });
    expect(span.status.code).toBe(2); // SpanStatusCode.ERROR
    expect(span.status.message).toBe("UNAUTHENTICATED");
  });

  it("the credit and the stream delivery of a gift continue the gift's trace (same trace id), through the gift.sent event and the feed", async () => {
    const rose = (await catalogGifts(stack)).get("rose")!;
    await goLive(stack, "trace-host");
    const hostToken = await stack.token({ sub: "trace-host", name: "Host", roles: ["viewer", "host"] });
    const stream = subscribe(wsUrl(stack.gateway.url), hostToken, `subscription($h: ID!) { giftReceived(hostId: $h) { id cursor } }`, { h: "trace-host" });
    // Subscribed once the earnings hub has the room.
    await eventually(async () => expect(stack.subgraphs.earnings.services.stream.roomStats().hostRooms).toEqual([1]));
    await fund(stack, "trace-sender", 30);
    const token = await viewerToken(stack, "trace-sender");
    const client = clientTrace();
    const res = await post(stack.gateway.url, SEND_GIFT, { input: { giftId: rose.id, hostId: "trace-host", idempotencyKey: key("trace") } }, { token, headers: { traceparent: client.traceparent } });
    expect(res.data.sendGift.userErrors).toEqual([]);
    const giftEventId = res.data.sendGift.giftEvent.id as string;
    const [event] = await stack.subgraphs.wallet.dataSource.query(`SELECT payload FROM eventlog.events WHERE event_id = $1`, [giftEventId]);
    expect(event.payload.traceparent).toMatch(new RegExp(`^00-${client.traceId}-[0-9a-f]{16}-01$`));
    const credit = await eventually(async () => {
      const s = spansOf(client.traceId).find((x) => x.name === "earnings credit gift.sent");
      expect(s).toBeDefined();
      return s!;
    });
    expect(credit.attributes["gift.event_id"]).toBe(giftEventId);
    // Its parent is the wallet's request span that wrote the event.
    const wallet = spansOf(client.traceId).find((x) => x.attributes["service.component"] === "wallet")!;
    expect(parentOf(credit)).toBe(wallet.spanContext().spanId);
    const [delivered] = await stream.waitFor(1);
    expect(delivered.data.giftReceived.id).toBe(giftEventId);
    const deliver = await eventually(async () => {
      const s = spansOf(client.traceId).find((x) => x.name === "earnings stream deliver");
      expect(s).toBeDefined();
      return s!;
    });
    expect(deliver.attributes["gift.event_id"]).toBe(giftEventId);
    expect(parentOf(deliver)).toBe(wallet.spanContext().spanId);
    await stream.dispose();
  });
});
