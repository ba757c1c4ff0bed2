import { loadObservabilityConfig, type ObservabilityConfig } from "../config.js";

let settings: ObservabilityConfig | null = null;

/** METRICS_* settings, read once (on first use) unless reloaded. */
export function metricsConfig(): ObservabilityConfig {
  return (settings ??= loadObservabilityConfig());
}

/** Tests: read the settings again (after changing METRICS_* in process.env). */
export function reloadMetricsConfig(cfg?: ObservabilityConfig): void {
  settings = cfg ?? null;
}
