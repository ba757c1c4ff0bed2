import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { AddressInfo } from "node:net";
import { mintToken, ROLES, type Role } from "../platform/auth.js";
import { loadConfig } from "../platform/config.js";
import { readBody, sendJson, BodyTooLarge } from "../platform/http.js";
import { logger } from "../platform/logger.js";
import { isEntryPoint } from "../platform/main.js";

/**
 * The web app's own origin: serves the Vite build (dist/web-app), the app's runtime config
 * (/config.json: where the gateway is, so nothing is hard-coded in the bundle) and, in
 * development only, POST /dev/token (a JWT for a chosen user: the app's dev sign-in).
 */
export interface WebServerOptions {
  port: number;
  host?: string;
  /** The gateway's HTTP URL as browsers reach it (ws:// is derived from it). */
  gatewayUrl: string;
  production: boolean;
  /** The built app; defaults to dist/web-app at the repository root. */
  staticDir?: string;
  /** Read per request instead of gatewayUrl (tests start the gateway after this server). */
  gatewayUrlProvider?: () => string;
}

export interface RunningWebServer {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json; charset=utf-8",
};
const DEV_TOKEN_MAX_BYTES = 4096;
const SUB = /^[A-Za-z0-9_.-]{1,64}$/;

export function defaultStaticDir(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  // dist/web/server.js → dist/web-app; web/server.ts (tests) → dist/web-app
  return here.includes(`${path.sep}dist${path.sep}`) ? path.resolve(here, "../web-app") : path.resolve(here, "../dist/web-app");
}

/** Validates a dev sign-in request: who to be, with bounded names and known roles. */
export function parseDevTokenRequest(body: unknown): { sub: string; name: string; roles: Role[]; region: string } | string {
  if (!body || typeof body !== "object") return "send JSON { sub, name, roles }";
  const b = body as Record<string, unknown>;
  if (typeof b.sub !== "string" || !SUB.test(b.sub)) return "sub must be 1-64 letters, digits, '.', '_' or '-'";
  const name = b.name === undefined ? b.sub : b.name;
  if (typeof name !== "string" || name.trim().length < 1 || name.length > 64) return "name must be 1-64 characters";
  const roles = b.roles === undefined ? ["viewer"] : b.roles;
  if (!Array.isArray(roles) || roles.length < 1 || roles.length > 3 || !roles.every((r) => ROLES.includes(r as Role))) return `roles must be some of ${ROLES.join(", ")}`;
  const region = b.region === undefined ? "US" : b.region;
  if (typeof region !== "string" || !/^[A-Z]{2}$/.test(region)) return "region must be a two-letter code";
  return { sub: b.sub, name: name.trim(), roles: [...new Set(roles as Role[])], region };
}

export async function startWebServer(opts: WebServerOptions): Promise<RunningWebServer> {
  const root = opts.staticDir ?? defaultStaticDir();
  const appConfig = () => {
    const gatewayUrl = opts.gatewayUrlProvider?.() ?? opts.gatewayUrl;
    return JSON.stringify({ gatewayUrl, gatewayWsUrl: gatewayUrl.replace(/^http/, "ws"), devSignIn: !opts.production });
  };
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, "web request failed");
      if (!res.headersSent) sendJson(res, 500, { error: "internal error" });
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname === "/health") return sendJson(res, 200, { status: "ok", service: "web" });
    if (url.pathname === "/config.json") {
      res.writeHead(200, { "content-type": TYPES[".json"], "cache-control": "no-store" });
      res.end(appConfig());
      return;
    }
    if (url.pathname === "/dev/token") return devToken(req, res);
    if (req.method !== "GET" && req.method !== "HEAD") return sendJson(res, 405, { error: "method not allowed" });
    serveStatic(url.pathname, res);
  }

  async function devToken(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Production has a real identity provider: this endpoint does not exist there.
    if (opts.production) return sendJson(res, 404, { error: "not found" });
    if (req.method !== "POST") return sendJson(res, 405, { error: "POST { sub, name, roles }" });
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req, DEV_TOKEN_MAX_BYTES)).toString("utf8"));
    } catch (e) {
      return sendJson(res, e instanceof BodyTooLarge ? 413 : 400, { error: e instanceof BodyTooLarge ? "body too large" : "body is not JSON" });
    }
    const parsed = parseDevTokenRequest(body);
    if (typeof parsed === "string") return sendJson(res, 400, { error: parsed });
    const token = await mintToken({ sub: parsed.sub, name: parsed.name, roles: parsed.roles, region: parsed.region, adult: true });
    sendJson(res, 200, { token, user: { id: parsed.sub, name: parsed.name, roles: parsed.roles, region: parsed.region } }, { "cache-control": "no-store" });
  }

  function serveStatic(pathname: string, res: ServerResponse): void {
    const rel = path.normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, "");
    let file = path.join(root, rel);
    if (!file.startsWith(root)) return sendJson(res, 404, { error: "not found" });
    const isFile = existsSync(file) && statSync(file).isFile();
    // Client-side routes (/room/…, /studio, /overlay) get the app; a missing asset stays a 404.
    if (!isFile) {
      if (path.extname(rel)) return sendJson(res, 404, { error: "not found" });
      file = path.join(root, "index.html");
      if (!existsSync(file)) return sendJson(res, 503, { error: "the web app is not built: run npm run build" });
    }
    const type = TYPES[path.extname(file)] ?? "application/octet-stream";
    const immutable = file.includes(`${path.sep}assets${path.sep}`);
    res.writeHead(200, { "content-type": type, "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache" });
    res.end(readFileSync(file));
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://localhost:${port}`,
    stop: () => new Promise<void>((r) => server.close(() => r())),
  };
}

if (isEntryPoint(import.meta.url)) {
  const config = loadConfig();
  startWebServer({ port: config.webPort, host: config.host, gatewayUrl: config.publicGatewayUrl, production: config.env === "production" }).then(
    (s) => {
      logger.info({ url: s.url }, "web app listening");
      const shutdown = () => s.stop().then(() => process.exit(0));
      process.on("SIGINT", shutdown);
      process.on("SIGTERM", shutdown);
    },
    (err) => {
      logger.fatal({ err: err instanceof Error ? err.stack : String(err) }, "web server failed to start");
      process.exit(1);
    },
  );
}
