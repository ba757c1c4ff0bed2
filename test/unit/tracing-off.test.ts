import { describe, expect, it } from "vitest";
import { context, createContextKey } from "@opentelemetry/api";
import { currentTraceparent, incomingTraceparent, initTracing } from "../../platform/tracing.js";

/**
 * Tracing off (no OTEL exporter settings, as in every test process but the tracing suite's): no
 * context manager runs, because on Node 20 its AsyncLocalStorage hooks every promise (DECISIONS 132).
 * The caller's traceparent travels in each request's context instead.
 */
describe("tracing off", () => {
  it("registers no context manager: a value set on the active context does not follow an await", async () => {
    await initTracing({ service: "tracing-off-test" });
    const k = createContextKey("probe");
    const seen = await context.with(context.active().setValue(k, "set"), async () => {
      await Promise.resolve();
      return context.active().getValue(k);
    });
    expect(seen).toBeUndefined();
    expect(currentTraceparent()).toBeUndefined();
  });

  it("keeps a caller's well-formed traceparent and drops anything else", () => {
    const good = `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`;
    expect(incomingTraceparent({ traceparent: good })).toBe(good);
    expect(incomingTraceparent({})).toBeUndefined();
    expect(incomingTraceparent({ traceparent: "00-not-a-trace-01" })).toBeUndefined();
    expect(incomingTraceparent({ traceparent: `${good} ` })).toBeUndefined();
    expect(incomingTraceparent({ traceparent: good.toUpperCase() })).toBeUndefined();
  });
});
