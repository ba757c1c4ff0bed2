import http from "node:http";
import https from "node:https";
import { guardedLookup } from "./destination.js";

/** Bytes of a receiver's answer we read (a verification challenge fits; nothing else is needed). */
export const MAX_RESPONSE_BYTES = 4 * 1024;
/** Bytes of one event body we send: far above any event, a bound against surprises. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface PostResult {
  statusCode: number | null;
  body: string;
  error: string | null;
  latencyMs: number;
}

/**
 * One signed POST with a deadline. Never throws: the outcome (status, first bytes of the
 * answer, or the network error) is what the delivery log records. No redirects are
 * followed (a 3xx is a failed attempt), so a receiver cannot bounce us to an internal URL.
 */
export function postJson(url: URL, body: string, headers: Record<string, string>, opts: { timeoutMs: number; production: boolean }): Promise<PostResult> {
  const started = performance.now();
  const done = (statusCode: number | null, text: string, error: string | null): PostResult => ({
    statusCode, body: text, error, latencyMs: Math.round(performance.now() - started),
  });
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return Promise.resolve(done(null, "", `body over ${MAX_BODY_BYTES} bytes`));
  const lib = url.protocol === "https:" ? https : http;
  return new Promise((resolve) => {
    let settled = false;
    const finish = (r: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      resolve(r);
    };
    const req = lib.request(
      url,
      {
        method: "POST",
        headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), "user-agent": "gift-economy-webhooks/1", ...headers },
        lookup: guardedLookup(opts.production) as never,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(c.subarray(0, MAX_RESPONSE_BYTES - size));
          size += c.length;
          if (size >= MAX_RESPONSE_BYTES) res.destroy();
        });
        const end = () => finish(done(res.statusCode ?? null, Buffer.concat(chunks).toString("utf8"), null));
        res.on("end", end);
        res.on("close", end);
        res.on("error", end);
      },
    );
    const deadline = setTimeout(() => {
      req.destroy();
      finish(done(null, "", `no answer within ${opts.timeoutMs} ms`));
    }, opts.timeoutMs);
    req.on("error", (err: NodeJS.ErrnoException) => finish(done(null, "", err.code ? `${err.code}: ${err.message}` : err.message)));
    req.end(body);
  });
}
