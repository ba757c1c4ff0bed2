import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { createHash, timingSafeEqual } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { ObservabilityConfig } from "../config.js";
import { registry } from "./families.js";
import { metricsText } from "./sampling.js";
import { metricsConfig } from "./settings.js";

/** Serving /metrics: on a service's own port, or on the process's METRICS_PORT listener; a METRICS_TOKEN when set. */

export interface MetricsExposure {
  /** Serve /metrics on this service's own port. */
  onServicePort: boolean;
  token: string | undefined;
}

/**
 * Where /metrics is served for a service (docs/observability.md): with METRICS_PORT only there;
 * otherwise on the service's own port, except the gateway's public port in production unless a
 * METRICS_TOKEN protects it. A token, when set, is required everywhere.
 */
export function metricsExposure(opts: { edge: boolean; production: boolean }, cfg: ObservabilityConfig = metricsConfig()): MetricsExposure {
  if (cfg.metricsPort !== undefined) return { onServicePort: false, token: cfg.metricsToken };
  return { onServicePort: !(opts.edge && opts.production && !cfg.metricsToken), token: cfg.metricsToken };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

function authorized(req: IncomingMessage, token: string | undefined): boolean {
  if (!token) return true;
  const header = req.headers.authorization;
  if (typeof header !== "string" || !header.startsWith("Bearer ")) return false;
  return timingSafeEqual(digest(header.slice(7)), digest(token));
}

/** Answers GET /metrics; false when /metrics is not served here (the caller answers 404). */
export async function serveMetrics(req: IncomingMessage, res: ServerResponse, exposure: MetricsExposure): Promise<boolean> {
  if (!exposure.onServicePort) return false;
  await writeMetrics(req, res, exposure.token);
  return true;
}

async function writeMetrics(req: IncomingMessage, res: ServerResponse, token: string | undefined): Promise<void> {
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { allow: "GET, HEAD" }).end();
    return;
  }
  if (!authorized(req, token)) {
    res.writeHead(401, { "www-authenticate": 'Bearer realm="metrics"', "content-type": "text/plain" }).end("unauthorized\n");
    return;
  }
  const text = await metricsText();
  res.writeHead(200, { "content-type": registry.contentType, "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
  res.end(req.method === "HEAD" ? undefined : text);
}

let listener: { server: http.Server; users: number; url: Promise<string> } | null = null;

/**
 * The process's own metrics listener on METRICS_PORT (only /metrics, nothing else), started by the
 * first service that needs it, closed when the last one stops. Returns its URL and a release.
 */
export function acquireMetricsListener(cfg: ObservabilityConfig = metricsConfig()): { url: Promise<string>; release: () => Promise<void> } | null {
  if (cfg.metricsPort === undefined) return null;
  if (!listener) {
    const server = http.createServer((req, res) => {
      const path = new URL(req.url ?? "/", "http://localhost").pathname;
      if (path !== "/metrics") {
        res.writeHead(404).end();
        return;
      }
      writeMetrics(req, res, cfg.metricsToken).catch(() => res.writable && res.writeHead(500).end());
    });
    const url = new Promise<string>((resolve, reject) => {
      server.once("error", reject);
      server.listen(cfg.metricsPort, cfg.metricsHost, () => resolve(`http://${cfg.metricsHost}:${(server.address() as AddressInfo).port}/metrics`));
    });
    listener = { server, users: 0, url };
  }
  const held = listener;
  held.users++;
  let released = false;
  return {
    url: held.url,
    release: async () => {
      if (released) return;
      released = true;
      if (--held.users > 0) return;
      if (listener === held) listener = null;
      await new Promise<void>((res) => held.server.close(() => res()));
    },
  };
}

/** The URL of the process's METRICS_PORT listener while one runs (tests, start-up logs). */
export function metricsListenerUrl(): Promise<string> | null {
  return listener?.url ?? null;
}
