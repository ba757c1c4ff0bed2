import { loadObservabilityConfig, type ObservabilityConfig } from "../config.js";

let settings: ObservabilityConfig | null = null;

/** METRICS_* settings, read once (on first use) unless reloaded. */
export function metricsConfig(): ObservabilityConfig {
  return (settings ??= loadObservabilityConfig());
}

/** Tests: read the settings again (after changing the METRICS_* variables), or use `cfg`. */
export function reloadMetricsConfig(cfg?: ObservabilityConfig): void {
  settings = cfg ?? null;
}
