import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadObservabilityConfig } from "../../platform/config.js";
import { metricsExposure, metricsListenerUrl, reloadMetricsConfig, useMetrics } from "../../platform/metrics.js";
import { startCatalog } from "../../subgraphs/catalog/index.js";
import { createTestDatabase } from "../support/db.js";
import { scrape } from "./prom.js";

const TOKEN = "scrape-token-0123456789";
let db: Awaited<ReturnType<typeof createTestDatabase>>;

beforeAll(async () => {
  db = await createTestDatabase("exposure");
});
afterAll(async () => {
  reloadMetricsConfig();
  await db?.drop();
});

async function withCatalog(env: NodeJS.ProcessEnv, fn: (url: string) => Promise<void>): Promise<void> {
  reloadMetricsConfig(loadObservabilityConfig(env));
  const catalog = await startCatalog({ databaseUrl: db.url, port: 0, poolSize: 2 });
  try {
    await fn(catalog.url);
  } finally {
    await catalog.stop();
    reloadMetricsConfig();
  }
}

describe("where /metrics is served", () => {
  it("with METRICS_TOKEN it answers 401 without the bearer token and the metrics with it", async () => {
    await withCatalog({ METRICS_TOKEN: TOKEN }, async (url) => {
      expect((await scrape(url)).status).toBe(401);
      expect((await scrape(url, { authorization: "Bearer wrong-token-0123456789" })).status).toBe(401);
      const ok = await scrape(url, { authorization: `Bearer ${TOKEN}` });
      expect(ok.status).toBe(200);
      expect(ok.types.get("graphql_requests_total")).toBe("counter");
    });
  });

  it("with METRICS_PORT it is served only on that port, and the service port answers 404", async () => {
    await withCatalog({ METRICS_PORT: "0" }, async (url) => {
      expect((await scrape(url)).status).toBe(404);
      const listener = await metricsListenerUrl();
      expect(listener).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
      const m = await scrape(listener!.replace(/\/metrics$/, ""));
      expect(m.status).toBe(200);
      expect(m.samples.some((s) => s.name === "db_pool_connections" && s.labels.service === "catalog")).toBe(true);
      // Nothing else is served there.
      expect((await fetch(listener!.replace(/\/metrics$/, "/graphql"))).status).toBe(404);
    });
    expect(metricsListenerUrl()).toBeNull(); // closed with the last service
  });

  it("the gateway's public port serves /metrics in production only with a token; subgraph ports and development always", () => {
    const none = loadObservabilityConfig({});
    const token = loadObservabilityConfig({ METRICS_TOKEN: TOKEN });
    expect(metricsExposure({ edge: true, production: true }, none).onServicePort).toBe(false);
    expect(metricsExposure({ edge: true, production: true }, token)).toEqual({ onServicePort: true, token: TOKEN });
    expect(metricsExposure({ edge: true, production: false }, none).onServicePort).toBe(true);
    expect(metricsExposure({ edge: false, production: true }, none).onServicePort).toBe(true);
  });
});

describe("settings are validated", () => {
  it("refuses a short METRICS_TOKEN, a bad METRICS_PORT and a bad METRICS_MAX_OPERATIONS", () => {
    expect(() => loadObservabilityConfig({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN/);
    expect(() => loadObservabilityConfig({ METRICS_PORT: "70000" })).toThrow(/METRICS_PORT/);
    expect(() => loadObservabilityConfig({ METRICS_MAX_OPERATIONS: "0" })).toThrow(/METRICS_MAX_OPERATIONS/);
  });

  it("useMetrics refuses a bad service name, a non-function sampler and an uninitialized DataSource", () => {
    expect(() => useMetrics({ service: "Wallet Service" })).toThrow(/service/);
    expect(() => useMetrics({ service: "x", sample: 42 as never })).toThrow(/sample/);
    expect(() => useMetrics({ service: "x", dataSource: { isInitialized: false } as never })).toThrow(/initialized/);
  });

  it("tracing export is off unless OTEL_TRACES_EXPORTER or an OTLP endpoint is set", () => {
    expect(loadObservabilityConfig({}).tracingExporter).toBe(false);
    expect(loadObservabilityConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }).tracingExporter).toBe(true);
    expect(loadObservabilityConfig({ OTEL_TRACES_EXPORTER: "otlp" }).tracingExporter).toBe(true);
    expect(loadObservabilityConfig({ OTEL_TRACES_EXPORTER: "none", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:4318" }).tracingExporter).toBe(false);
    expect(loadObservabilityConfig({ OTEL_SDK_DISABLED: "true", OTEL_TRACES_EXPORTER: "otlp" }).tracingExporter).toBe(false);
  });
});
