import { createReadStream, existsSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { IncomingMessage, ServerResponse } from "node:http";
import { GIFT_ASSETS_PATH } from "../platform/config.js";
import type { Route } from "../platform/http.js";

/** The repository root, both from source (gateway/) and from dist/gateway/. */
function repoRoot(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  return here.includes("/dist/") ? fileURLToPath(new URL("../../", import.meta.url)) : fileURLToPath(new URL("../", import.meta.url));
}

export const GIFT_ASSETS_DIR = `${repoRoot()}assets/gifts/`;
/** Written by `npm run build` (scripts/build-ide.mjs). */
export const IDE_DIR = `${repoRoot()}dist/graphiql/`;

const TYPES: Record<string, string> = {
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".webp": "image/webp",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".ttf": "font/ttf",
  ".woff2": "font/woff2",
  ".map": "application/json",
  ".html": "text/html; charset=utf-8",
};

/** One path segment of letters, digits, dots, dashes and underscores: no traversal, no hidden files. */
const SAFE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$/;

function sendFile(res: ServerResponse, file: string, cacheControl: string, method: string): boolean {
  const name = file.slice(file.lastIndexOf("/") + 1);
  const ext = name.includes(".") ? name.slice(name.lastIndexOf(".")) : "";
  const type = TYPES[ext];
  if (!type || !existsSync(file) || !statSync(file).isFile()) return false;
  res.writeHead(200, {
    "content-type": type,
    "content-length": statSync(file).size,
    "cache-control": cacheControl,
    "x-content-type-options": "nosniff",
    // SVGs are images here, never documents that run script.
    ...(ext === ".svg" ? { "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox" } : {}),
  });
  if (method === "HEAD") res.end();
  else createReadStream(file).pipe(res);
  return true;
}

function notFound(res: ServerResponse): true {
  res.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found");
  return true;
}

/**
 * GET /assets/gifts/<file>: the gift images the repo ships (the default CDN_BASE_URL points here),
 * in every environment; a real CDN replaces it by setting CDN_BASE_URL.
 */
export const giftAssetsRoute: Route = (req, res) => {
  if (req.method !== "GET" && req.method !== "HEAD") return false;
  const path = new URL(req.url ?? "/", "http://localhost").pathname;
  if (!path.startsWith(`${GIFT_ASSETS_PATH}/`)) return false;
  const name = path.slice(GIFT_ASSETS_PATH.length + 1);
  if (!SAFE_NAME.test(name) || !sendFile(res, GIFT_ASSETS_DIR + name, "public, max-age=86400", req.method)) return notFound(res);
  return true;
};

function wantsHtml(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? "";
  return accept.includes("text/html");
}

/**
 * Development only: GraphiQL on GET /graphql for a browser (accept: text/html), bundled from npm at
 * build time and served from this process (/graphiql/assets/...), so it works offline. Never
 * registered in production (see startGateway); a GET without text/html is a GraphQL request.
 */
export function ideRoute(graphqlPath = "/graphql"): Route {
  return (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") return false;
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (path === graphqlPath && wantsHtml(req)) {
      if (sendFile(res, `${IDE_DIR}index.html`, "no-cache", req.method)) return true;
      res.writeHead(503, { "content-type": "text/plain; charset=utf-8" }).end("GraphiQL is not built: run `npm run build` (or `npm run build:ide`).");
      return true;
    }
    if (!path.startsWith("/graphiql/assets/")) return false;
    const name = path.slice("/graphiql/assets/".length);
    // File names carry a content hash: cache them for good.
    if (!SAFE_NAME.test(name) || !sendFile(res, `${IDE_DIR}assets/${name}`, "public, max-age=31536000, immutable", req.method)) return notFound(res);
    return true;
  };
}
