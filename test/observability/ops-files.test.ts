import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { metricNames, registry } from "../../platform/metrics.js";

const root = new URL("../../ops/", import.meta.url);
const dashboard = JSON.parse(readFileSync(new URL("grafana-dashboard.json", root), "utf8"));
const alerts = parse(readFileSync(new URL("prometheus-alerts.yml", root), "utf8"));

/** Metric names a PromQL expression references (identifiers with an underscore that are not functions or labels). */
function metricsIn(expr: string): string[] {
  const fns = new Set(["histogram_quantile", "label_values"]);
  return [...expr.matchAll(/(?<![$\w"])([a-z_:][a-z0-9_:]*_[a-z0-9_:]+)\b(?!\s*=)/g)].map((m) => m[1]).filter((n) => !fns.has(n) && !n.startsWith("__"));
}

/** A series name's family in the registry: histograms expose name_bucket, name_sum, name_count. */
function family(series: string): string | null {
  const names = new Set(metricNames());
  if (names.has(series)) return series;
  const base = series.replace(/_(bucket|sum|count)$/, "");
  const m = registry.getSingleMetric(base) as unknown as { type?: string } | undefined;
  return base !== series && m && (m.type === "histogram" || m.type === "summary") ? base : null;
}

function dashboardExprs(): string[] {
  const out: string[] = [];
  for (const p of dashboard.panels) for (const t of p.targets ?? []) out.push(t.expr);
  for (const v of dashboard.templating.list) if (typeof v.query === "string" && v.type === "query") out.push(v.query);
  return out;
}
const rules: { alert: string; expr: string; labels: { severity: string } }[] = alerts.groups.flatMap((g: { rules: unknown[] }) => g.rules);

describe("ops/ files", () => {
  it("the Grafana dashboard is valid JSON with panels, and every metric it references exists in the registry", () => {
    expect(dashboard.panels.filter((p: { type: string }) => p.type !== "row").length).toBeGreaterThan(10);
    const refs = dashboardExprs().flatMap(metricsIn);
    expect(refs.length).toBeGreaterThan(20);
    expect(refs.filter((r) => family(r) === null)).toEqual([]);
  });

  it("the dashboard has a panel for every metric family this platform defines", () => {
    const used = new Set(dashboardExprs().flatMap(metricsIn).map(family));
    const ours = metricNames().filter((n) => !/^(process_|nodejs_)/.test(n));
    expect(ours.filter((n) => !used.has(n))).toEqual([]);
  });

  it("the alert rules parse, reference only metrics in the registry, and page on lag, error rate, pool exhaustion and SLOW_CONSUMER spikes", () => {
    const refs = rules.flatMap((r) => metricsIn(r.expr));
    expect(refs.filter((r) => family(r) === null)).toEqual([]);
    const paging = rules.filter((r) => r.labels.severity === "page");
    const pages = (metric: string) => paging.some((r) => metricsIn(r.expr).map(family).includes(metric));
    expect(pages("eventlog_lag_seconds")).toBe(true);
    expect(pages("graphql_requests_total")).toBe(true);
    expect(pages("db_pool_waiting_clients")).toBe(true);
    expect(pages("stream_slow_consumers_total")).toBe(true);
    for (const r of rules) expect(r.alert).toMatch(/^[A-Z][A-Za-z]+$/);
  });

  it("the reference check itself catches a metric that does not exist", () => {
    expect(metricsIn(`sum(rate(graphql_requestz_total[5m]))`).map(family)).toEqual([null]);
    expect(metricsIn(`histogram_quantile(0.99, sum by (le) (rate(event_lag_seconds_bucket{stage="credited"}[5m])))`).map(family)).toEqual(["event_lag_seconds"]);
  });
});
