import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { loadConfig } from "../../platform/config.js";
import { originAllowed } from "../../platform/http.js";
import { startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("cors");
});
afterAll(async () => {
  await stack?.stop();
});

const PREFLIGHT_HEADERS = "authorization, content-type, apollo-require-preflight, x-apollo-operation-name";

function preflight(url: string, origin: string): Promise<Response> {
  return fetch(url, {
    method: "OPTIONS",
    headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": PREFLIGHT_HEADERS },
  });
}

describe("CORS on the gateway", () => {
  it("answers an allowed origin's preflight with 204, the allow headers and a cache lifetime", async () => {
    const res = await preflight(stack.gateway.url, "http://localhost:4080");
    expect(res.status).toBe(204);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:4080");
    const allowed = (res.headers.get("access-control-allow-headers") ?? "").split(",").map((h) => h.trim());
    expect(allowed).toEqual(expect.arrayContaining(PREFLIGHT_HEADERS.split(", ")));
    expect(res.headers.get("access-control-allow-methods")).toMatch(/POST/);
    expect(Number(res.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    // Tokens, never cookies: no credentials, so a reflected origin is never "*" with credentials.
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
  });

  it("gives a disallowed origin no allow headers at all", async () => {
    const res = await preflight(stack.gateway.url, "https://evil.example.com");
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
    expect(res.headers.get("access-control-allow-headers")).toBeNull();
    const post = await fetch(stack.gateway.url, {
      method: "POST",
      headers: { origin: "https://evil.example.com", "content-type": "application/json" },
      body: JSON.stringify({ query: "{ gifts { id } }" }),
    });
    expect(post.headers.get("access-control-allow-origin")).toBeNull();
  });

  it("lets an allowed origin read the answer of a real POST (and its request id)", async () => {
    const res = await fetch(stack.gateway.url, {
      method: "POST",
      headers: { origin: "http://127.0.0.1:5173", "content-type": "application/json" },
      body: JSON.stringify({ query: "{ gifts { id } }" }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("access-control-allow-origin")).toBe("http://127.0.0.1:5173");
    expect(res.headers.get("access-control-expose-headers")).toMatch(/x-request-id/);
  });

  it("covers the subgraphs' servers too (one pipeline)", async () => {
    const res = await preflight(stack.subgraphs.catalog.url, "http://localhost:4080");
    expect(res.headers.get("access-control-allow-origin")).toBe("http://localhost:4080");
  });
});

describe("CORS configuration", () => {
  it("defaults in development to the app's origin and any localhost port", () => {
    const c = loadConfig({ NODE_ENV: "development", WEB_APP_URL: "http://app.test:8080" });
    expect(c.corsOrigins).toContain("http://app.test:8080");
    expect(originAllowed("http://app.test:8080", c.corsOrigins)).toBe(true);
    expect(originAllowed("http://localhost:5173", c.corsOrigins)).toBe(true);
    expect(originAllowed("http://127.0.0.1:4080", c.corsOrigins)).toBe(true);
    expect(originAllowed("http://localhost.evil.com:80", c.corsOrigins)).toBe(false);
    expect(originAllowed("https://example.com", c.corsOrigins)).toBe(false);
  });

  it("allows no cross-origin caller in production unless listed, and refuses `*`", () => {
    const prod = { NODE_ENV: "production", JWT_SECRET: "p".repeat(40), PAYMENT_WEBHOOK_SECRET: "x".repeat(32), SERVICE_SECRET: "s".repeat(40) };
    expect(loadConfig(prod).corsOrigins).toEqual([]);
    expect(loadConfig({ ...prod, CORS_ORIGINS: "https://app.example.com, https://studio.example.com" }).corsOrigins).toEqual([
      "https://app.example.com",
      "https://studio.example.com",
    ]);
    expect(() => loadConfig({ ...prod, CORS_ORIGINS: "*" })).toThrow(/CORS_ORIGINS/);
    expect(() => loadConfig({ ...prod, CORS_ORIGINS: "not an origin" })).toThrow(/CORS_ORIGINS/);
  });
});

describe("the same allow-list on the gateway's WebSocket", () => {
  const open = (origin?: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(stack.gateway.url.replace(/^http/, "ws"), "graphql-transport-ws", origin ? { origin } : {});
      ws.on("open", () => {
        ws.close();
        resolve(101);
      });
      ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
      ws.on("error", () => resolve(-1));
    });

  it("refuses a browser socket from an origin not on the list (403), accepts a listed one and non-browser clients", async () => {
    expect(await open("https://evil.example.com")).toBe(403);
    expect(await open("http://localhost:4080")).toBe(101);
    expect(await open()).toBe(101);
  });
});
