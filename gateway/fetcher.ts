import http, { type IncomingHttpHeaders } from "node:http";
import https from "node:https";
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
 * Nor undici's `Response` for the answer: building one (Headers, a web ReadableStream for the
 * body, then `json()` through it) was ~8% of the gateway's busy CPU under sendGift load
 * (2026-12-02 profile); a subgraph answer is one small buffer, so it is handed over as one
 * (`SubgraphAnswer`, parsed by gateway/data-source.ts).
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

/** One subgraph answer: the status as the gateway should see it (subgraph-errors.ts), headers and the whole body. */
export interface SubgraphAnswer {
  status: number;
  statusText: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** POSTs (or GETs) one request to a subgraph URL; headers are plain lower-case names. */
export type SubgraphPost = (url: string, headers: Record<string, string>, body: string | Buffer | undefined, method?: string) => Promise<SubgraphAnswer>;

export function subgraphPost(serviceName: string, timeoutMs: number): SubgraphPost {
  const agents = {
    "http:": new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: "lifo", maxSockets: MAX_SOCKETS }),
    "https:": new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS, scheduling: "lifo", maxSockets: MAX_SOCKETS }),
  };
  const failure = (timedOut: boolean) => subgraphFailure(serviceName, timedOut, timeoutMs);
  return (url, headers, payload, method = "POST") =>
    new Promise((resolve, reject) => {
      const u = new URL(url);
      const mod = u.protocol === "https:" ? https : http;
      if (payload !== undefined) headers["content-length"] = String(Buffer.byteLength(payload));
      let timedOut = false;
      const req = mod.request(u, { method, headers, agent: agents[u.protocol as "http:" | "https:"] ?? agents["http:"] }, (res) => {
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
          const body = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
          const received = res.statusCode ?? 502;
          // A 4xx GraphQL answer with coded errors is a GraphQL response, not a transport failure (subgraph-errors.ts).
          const status = subgraphClientErrorStatus(received, res.headers["content-type"], body);
          resolve({ status, statusText: status === received ? (res.statusMessage ?? "") : "OK", headers: res.headers, body });
        });
      });
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
