import http from "node:http";
import { loadBenchSettings } from "../config.js";

/**
 * The load generator's own HTTP client for the open-loop sender: node:http with a bounded
 * keep-alive pool (global fetch opened a socket per in-flight request and failed with
 * "fetch failed" once thousands were pending on an overloaded gateway).
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: loadBenchSettings().maxSockets, timeout: 4_000 });

export function postJson(url: string, body: string, headers: Record<string, string> = {}, timeoutMs = 60_000): Promise<{ status: number; json: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString("utf8");
          let json: any = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = { errors: [{ message: text.slice(0, 100), extensions: { code: `HTTP ${res.statusCode}` } }] };
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
    req.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(e.code ?? e.message), { code: e.code }));
    });
    req.end(body);
  });
}
