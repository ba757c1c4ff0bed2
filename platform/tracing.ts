import type { IncomingHttpHeaders } from "node:http";
import {
  context, propagation, trace, ROOT_CONTEXT, SpanKind, SpanStatusCode,
  type Attributes, type Span,
} from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import type { SpanProcessor } from "@opentelemetry/sdk-trace-base";
import { loadObservabilityConfig } from "./config.js";
import { logger } from "./logger.js";

/**
 * OpenTelemetry tracing, W3C `traceparent` end to end: client → gateway (server span) → each
 * subgraph fetch (client span, header injected) → subgraph (server span) → the `gift.sent` event
 * (its payload carries the traceparent) → the earnings credit (a span per credited gift, child of
 * the gift's trace) → the stream delivery.
 *
 * Off by default: without OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT no SDK is loaded, no
 * exporter exists and nothing touches the network. Propagation still runs, explicitly and without
 * a context manager: the incoming traceparent (`incomingTraceparent`, kept in each request's context)
 * passes through to the subgraphs and into events unchanged, so a caller's own tracing still
 * connects. The context manager (AsyncLocalStorage) is registered only when spans are recorded: on
 * Node 20 it runs a hook for every promise, 15% of the stack's CPU per gift (DECISIONS 132).
 * With an exporter configured, @opentelemetry/sdk-node reads the standard OTEL_* variables
 * (endpoint, protocol, headers, sampler, resource attributes).
 */
const TRACER = "gift-economy";
let started: Promise<void> | null = null;
let sdk: { shutdown(): Promise<void> } | null = null;
/** Spans are recorded (an exporter or a test's span processor): the active context follows async calls. */
let recording = false;

/** The W3C propagator always; the context manager only when spans are recorded. */
function registerPropagation(spans: boolean): void {
  if (spans) context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  recording = spans;
  // tracecontext only: baggage would forward whatever a client puts in it to every service.
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
}

export interface TracingOptions {
  /** Service name for the resource (OTEL_SERVICE_NAME wins). */
  service: string;
  /** Record spans with this processor instead of the configured exporter (tests: an in-memory exporter). */
  spanProcessor?: SpanProcessor;
}

/** Sets tracing up once per process; the first caller decides (later calls are no-ops). */
export function initTracing(opts: TracingOptions): Promise<void> {
  started ??= (async () => {
    const cfg = loadObservabilityConfig();
    if (opts.spanProcessor) {
      const { BasicTracerProvider } = await import("@opentelemetry/sdk-trace-base");
      registerPropagation(true);
      trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [opts.spanProcessor] }));
      return;
    }
    if (!cfg.tracingExporter) {
      registerPropagation(false);
      return;
    }
    const { NodeSDK } = await import("@opentelemetry/sdk-node");
    const instance = new NodeSDK({ serviceName: cfg.otelServiceName ?? opts.service, instrumentations: [], textMapPropagator: new W3CTraceContextPropagator() });
    instance.start(); // registers its own AsyncLocalStorage context manager
    sdk = instance;
    recording = true;
    logger.info({ service: opts.service }, "OpenTelemetry tracing exporter on");
  })();
  return started;
}

/** Flushes and stops the exporter (process exit). */
export async function shutdownTracing(): Promise<void> {
  await sdk?.shutdown().catch(() => undefined);
  sdk = null;
}

const tracer = () => trace.getTracer(TRACER);

/** Runs an incoming HTTP request in a SERVER span continuing the caller's `traceparent` (just runs it when spans are not recorded). */
export function withServerSpan<T>(headers: IncomingHttpHeaders, service: string, fn: () => Promise<T>): Promise<T> {
  if (!recording) return fn();
  const parent = propagation.extract(ROOT_CONTEXT, headers);
  return tracer().startActiveSpan(`${service} graphql`, { kind: SpanKind.SERVER, attributes: { "service.component": service } }, parent, (span) =>
    settle(span, fn),
  );
}

async function settle<T>(span: Span, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    span.recordException(e instanceof Error ? e : String(e));
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw e;
  } finally {
    span.end();
  }
}

/** Names the active request span after its operation (bounded name, as the metrics label) and marks errors. */
export function annotateRequestSpan(operation: string, type: string | undefined, errorCodes: string[]): void {
  const span = trace.getActiveSpan();
  if (!span?.isRecording()) return;
  span.updateName(`${type ?? "graphql"} ${operation}`);
  span.setAttributes({ "graphql.operation.name": operation, ...(type ? { "graphql.operation.type": type } : {}) });
  if (errorCodes.length) {
    span.setAttribute("graphql.error.codes", errorCodes.slice(0, 10));
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorCodes[0] });
  }
}

/**
 * Runs one call to `peer` in a CLIENT span, with the active context's `traceparent` injected into
 * `headers` (a plain record the caller then sends). Marks 5xx answers as errors.
 */
export function clientSpan<T extends { status?: unknown } | undefined>(peer: string, headers: Record<string, string>, fn: () => Promise<T>): Promise<T> {
  return tracer().startActiveSpan(`POST ${peer}`, { kind: SpanKind.CLIENT, attributes: { "peer.service": peer } }, (span) =>
    settle(span, async () => {
      propagation.inject(context.active(), headers);
      const res = await fn();
      if (typeof res?.status === "number") {
        span.setAttribute("http.response.status_code", res.status);
        if (res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      return res;
    }),
  );
}

/**
 * The caller's well-formed `traceparent` header, which a request's context keeps: what the request
 * passes on (subgraph fetches, the gift.sent payload) when no span of ours is active.
 */
export function incomingTraceparent(headers: IncomingHttpHeaders): string | undefined {
  const t = headers.traceparent;
  return typeof t === "string" && TRACEPARENT.test(t) ? t : undefined;
}

/** The active context's `traceparent` (to store in an event payload), or undefined outside any trace. */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

const TRACEPARENT = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * Runs `fn` with one CONSUMER span per event that carries a traceparent, each a child of that
 * event's trace (a batch applies gifts of many traces). Ends them when `fn` settles.
 */
export async function withEventSpans<T>(name: string, events: { traceparent?: unknown; attributes?: Attributes }[], fn: () => Promise<T>): Promise<T> {
  const spans: Span[] = [];
  for (const e of events) {
    if (typeof e.traceparent !== "string" || !TRACEPARENT.test(e.traceparent)) continue;
    const parent = propagation.extract(ROOT_CONTEXT, { traceparent: e.traceparent });
    if (!trace.getSpanContext(parent)) continue;
    spans.push(tracer().startSpan(name, { kind: SpanKind.CONSUMER, attributes: { "messaging.batch.message_count": events.length, ...e.attributes } }, parent));
  }
  try {
    return await fn();
  } catch (err) {
    for (const s of spans) s.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
    throw err;
  } finally {
    for (const s of spans) s.end();
  }
}

/** A short span in an event's trace for a step that happens later (e.g. handing a gift to its stream). */
export function eventSpan(name: string, traceparent: string | null | undefined, attributes: Attributes = {}): void {
  if (!traceparent || !TRACEPARENT.test(traceparent)) return;
  const parent = propagation.extract(ROOT_CONTEXT, { traceparent });
  if (!trace.getSpanContext(parent)) return;
  tracer().startSpan(name, { kind: SpanKind.PRODUCER, attributes }, parent).end();
}
