import autocannon from "autocannon";
import { round, summarize, type Summary } from "./stats.js";

/**
 * HTTP load with autocannon. Latencies are taken from autocannon's per-response event
 * (sub-millisecond, raw samples) instead of its histogram, which rounds to whole ms.
 */
export interface LoadOptions {
  url: string;
  connections: number;
  durationSec: number;
  /** Open-loop-ish: requests/s over all connections (autocannon overallRate). Closed loop when absent. */
  overallRate?: number;
  /** A fresh request body (and headers) per request: idempotency keys, rotating users. */
  request: () => { body: string; headers?: Record<string, string> };
  /** Returns an error label for a 200 response that still failed (GraphQL errors, userErrors), or null. */
  check?: (body: string, status: number) => string | null;
}

export interface LoadResult {
  requests: number;
  ok: number;
  errors: number;
  /** Error labels and how often they occurred (the first few kinds). */
  errorKinds: Record<string, number>;
  durationSec: number;
  /** Successful responses per second. */
  okPerSec: number;
  latencyMs: Summary;
}

export async function load(opts: LoadOptions): Promise<LoadResult> {
  const u = new URL(opts.url);
  const latencies: number[] = [];
  let ok = 0;
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  const fail = (kind: string) => {
    errors++;
    if (kind in errorKinds || Object.keys(errorKinds).length < 10) errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
  };
  const started = performance.now();
  const instance = autocannon({
    url: `${u.protocol}//${u.host}`,
    connections: opts.connections,
    duration: opts.durationSec,
    ...(opts.overallRate ? { overallRate: opts.overallRate } : {}),
    timeout: 30,
    requests: [
      {
        method: "POST",
        path: u.pathname,
        setupRequest: (req: Record<string, unknown>) => {
          const r = opts.request();
          return { ...req, method: "POST", path: u.pathname, body: r.body, headers: { "content-type": "application/json", ...r.headers } };
        },
        onResponse: (status: number, body: string) => {
          if (status < 200 || status >= 300) return fail(`HTTP ${status}: ${body.slice(0, 120)}`);
          const err = opts.check?.(body, status) ?? null;
          if (err) fail(err);
          else ok++;
        },
      },
    ],
  });
  instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
  const result = await instance;
  const durationSec = (performance.now() - started) / 1000;
  return {
    requests: Number(result.requests?.total ?? latencies.length),
    ok,
    errors: errors + Number(result.errors ?? 0) + Number(result.timeouts ?? 0),
    errorKinds,
    durationSec: round(durationSec, 2),
    okPerSec: round(ok / durationSec, 1),
    latencyMs: summarize(latencies),
  };
}

/** Checks a GraphQL response: errors → their code; a payload's userErrors → their code. */
export function graphqlCheck(payloadField?: string): (body: string) => string | null {
  return (body) => {
    let json: { data?: Record<string, any>; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      json = JSON.parse(body);
    } catch {
      return "unparseable response";
    }
    if (json.errors?.length) return `GraphQL ${json.errors[0].extensions?.code ?? "error"}: ${json.errors[0].message.slice(0, 100)}`;
    if (payloadField) {
      const p = json.data?.[payloadField];
      if (!p) return `no ${payloadField}`;
      if (p.userErrors?.length) return `userError ${p.userErrors[0].code}`;
    }
    return null;
  };
}

/** Sequential requests (one in flight): per-request latency without queueing, for overhead figures. */
export async function serialLatency(url: string, body: string, n: number, headers: Record<string, string> | (() => Record<string, string>) = {}): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    // A function: headers that must stay fresh (a service credential lives 60 s; a slow run takes longer).
    const h = typeof headers === "function" ? headers() : headers;
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...h }, body });
    await res.text();
    if (!res.ok) throw new Error(`${url} answered ${res.status}`);
    samples.push(performance.now() - t);
  }
  return summarize(samples);
}
