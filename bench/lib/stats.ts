/** Latency summaries in milliseconds (3 decimals), from raw samples: no histogram rounding. */
export interface Summary {
  n: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  mean: number | null;
}

const r3 = (x: number) => Math.round(x * 1000) / 1000;

export function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  // Nearest-rank: the smallest sample with at least p% of the samples at or below it.
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return r3(sorted[Math.min(sorted.length, rank) - 1]);
}

export function summarize(samples: number[]): Summary {
  const s = Float64Array.from(samples).sort();
  const arr = Array.from(s);
  return {
    n: arr.length,
    p50: percentile(arr, 50),
    p90: percentile(arr, 90),
    p99: percentile(arr, 99),
    max: arr.length ? r3(arr[arr.length - 1]) : null,
    mean: arr.length ? r3(arr.reduce((a, b) => a + b, 0) / arr.length) : null,
  };
}

export const round = (x: number, digits = 2) => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
