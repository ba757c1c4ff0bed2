import http from "node:http";
import https from "node:https";
import type { Fetcher } from "@apollo/utils.fetcher";
import { subgraphFailure } from "../platform/codes.js";
import { subgraphMaxSocketsFromEnv } from "./config.js";
import { subgraphClientErrorStatus } from "./subgraph-errors.js";

/**
 * Subgraph fetches: node:http with a keep-alive pool, a hard timeout, and no retries — a
 * retried mutation could move money twice. Failures become typed errors.
 *
 * Not the global fetch (undici): it streams every request body through an async iterator
 * and costs about twice the CPU per call (bench: ~570 vs ~250 µs per loopback request
 * incl. the server, and ~30% of the gateway's busy CPU in `gifts`/sendGift profiles).
 * Idle pooled sockets are closed after 4 s, before the subgraphs' 5 s keep-alive timeout,
 * so a request is never written to a socket the server is closing.
 */
export const IDLE_SOCKET_MS = 4_000;
/**
 * Connections per subgraph. Beyond this, requests wait in the pool (inside their timeout)
 * instead of opening more sockets: a room's fan-out once opened ~1,000 sockets to the catalog
 * at once and got connection resets ("catalog is unavailable") instead of answers.
 */
export const MAX_SOCKETS = subgraphMaxSocketsFromEnv();

function flatHeaders(init: RequestInit | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  new Headers(init?.headers as ConstructorParameters<typeof Headers>[0]).forEach((v, k) => (out[k] = v));
  return out;
}

export function subgraphFetcher(serviceName: string, timeoutMs: number): Fetcher {
  const agents = {
    "http:": new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: "lifo", maxSockets: MAX_SOCKETS }),
    "https:": new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: "lifo", maxSockets: MAX_SOCKETS }),
  };
  const failure = (timedOut: boolean) => subgraphFailure(serviceName, timedOut, timeoutMs);
  return (url, init) =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      const mod = u.protocol === "https:" ? https : http;
      const body = (init as RequestInit | undefined)?.body;
      const payload = typeof body === "string" || body instanceof Uint8Array ? body : body == null ? undefined : String(body);
      const headers = flatHeaders(init as RequestInit | undefined);
      if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
      let timedOut = false;
      const req = mod.request(
        u,
        { method: (init as RequestInit | undefined)?.method ?? "GET", headers, agent: agents[u.protocol as "http:" | "https:"] ?? agents["http:"] },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("error", () => {
            clearTimeout(timer);
            reject(failure(timedOut));
          });
          res.on("close", () => {
            // Destroyed mid-body (timeout, subgraph died): no "end" will come.
            if (!res.complete) {
              clearTimeout(timer);
              reject(failure(timedOut));
            }
          });
          res.on("end", () => {
            clearTimeout(timer);
            const raw = Buffer.concat(chunks);
            // A 4xx GraphQL answer with coded errors is a GraphQL response, not a transport failure (subgraph-errors.ts).
            const status = subgraphClientErrorStatus(res.statusCode ?? 502, res.headers["content-type"], raw);
            const h = new Headers();
            for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) h.set(k, Array.isArray(v) ? v.join(", ") : v);
            const noBody = status === 204 || status === 205 || status === 304;
            resolve(new Response(noBody ? null : raw, { status, statusText: status === res.statusCode ? (res.statusMessage ?? "") : "OK", headers: h }) as unknown as Awaited<ReturnType<Fetcher>>);
          });
        },
      );
      const timer = setTimeout(() => {
        timedOut = true;
        req.destroy();
      }, timeoutMs);
      req.on("error", () => {
        clearTimeout(timer);
        reject(failure(timedOut));
      });
      req.end(payload);
    });
}
