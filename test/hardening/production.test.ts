import { GraphQLError } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEV_JWT_SECRET, DEV_SERVICE_SECRET, loadConfig } from "../../platform/config.js";
import { formatError } from "../../platform/http.js";
import type { RunningGateway } from "../../gateway/index.js";
import { PRODUCTION_SECRETS, startStack, type Stack } from "../support/stack.js";

let stack: Stack;
let prod: RunningGateway;
beforeAll(async () => {
  // The subgraphs (development mode) and the production gateway share one service secret.
  stack = await startStack("production", { env: { SERVICE_SECRET: PRODUCTION_SECRETS.SERVICE_SECRET } });
  // Production configuration is read once at start-up.
  prod = await stack.startGateway({ env: { NODE_ENV: "production", ...PRODUCTION_SECRETS } });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

describe("production mode", () => {
  it("refuses to start with the development JWT secret", () => {
    expect(() => loadConfig({ NODE_ENV: "production" })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: DEV_JWT_SECRET, PAYMENT_WEBHOOK_SECRET: "x".repeat(32) })).toThrow(/JWT_SECRET/);
    expect(() => loadConfig({ NODE_ENV: "production", JWT_SECRET: "short", PAYMENT_WEBHOOK_SECRET: "x".repeat(32) })).toThrow(/32/);
    expect(loadConfig({ NODE_ENV: "production", JWT_SECRET: "p".repeat(40), PAYMENT_WEBHOOK_SECRET: "x".repeat(32), SERVICE_SECRET: "s".repeat(32) }).env).toBe("production");
  });

  it("refuses to start without a service secret of its own (unset, the development one, short, or equal to JWT_SECRET)", () => {
    const base = { NODE_ENV: "production", JWT_SECRET: "p".repeat(40), PAYMENT_WEBHOOK_SECRET: "x".repeat(32) };
    expect(() => loadConfig(base)).toThrow(/SERVICE_SECRET must be set/);
    expect(() => loadConfig({ ...base, SERVICE_SECRET: "" })).toThrow(/SERVICE_SECRET must be set/);
    expect(() => loadConfig({ ...base, SERVICE_SECRET: DEV_SERVICE_SECRET })).toThrow(/SERVICE_SECRET must be set/);
    expect(() => loadConfig({ ...base, SERVICE_SECRET: "short-secret" })).toThrow(/SERVICE_SECRET must be at least 32/);
    expect(() => loadConfig({ ...base, SERVICE_SECRET: "p".repeat(40) })).toThrow(/SERVICE_SECRET must differ from JWT_SECRET/);
    expect(loadConfig({ ...base, SERVICE_SECRET: "s".repeat(32) }).serviceSecret).toBe("s".repeat(32));
  });

  it("turns introspection off on the public endpoint", async () => {
    const res = await fetch(prod.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ __schema { types { name } } }" }) });
    const body = await res.json();
    expect(body.errors[0].message).toMatch(/introspection/i);
    expect(body.data).toBeUndefined();
  });

  it("serves no landing page", async () => {
    const res = await fetch(prod.url, { headers: { accept: "text/html" } });
    expect(res.headers.get("content-type") ?? "").not.toMatch(/text\/html/);
  });

  it("serves no GraphiQL (neither the page nor its bundle), while development does", async () => {
    const page = await fetch(prod.url, { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(await page.text()).not.toMatch(/graphiql/i);
    expect((await fetch(new URL("/graphiql/assets/index.js", prod.url))).status).toBe(404);
    const dev = await fetch(stack.gateway.url, { headers: { accept: "text/html,application/xhtml+xml" } });
    expect(dev.headers.get("content-type") ?? "").toMatch(/text\/html/);
  });

  it("still answers ordinary queries", async () => {
    const res = await fetch(prod.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "{ gifts { slug } }" }) });
    expect((await res.json()).data.gifts[0].slug).toBe("rose");
  });
});

describe("error masking (every mode)", () => {
  it("replaces an unexpected error's message and stack with the request id", () => {
    const internal = new Error("connect ECONNREFUSED 10.0.0.5:5432 password=hunter2");
    const err = new GraphQLError("connect ECONNREFUSED 10.0.0.5:5432 password=hunter2", { originalError: internal, extensions: { code: "INTERNAL_SERVER_ERROR" } });
    const out = formatError({ message: err.message, extensions: { code: "INTERNAL_SERVER_ERROR", stacktrace: ["at x"] } }, err);
    expect(out.message).not.toMatch(/ECONNREFUSED|hunter2/);
    expect(out.extensions).toMatchObject({ code: "INTERNAL_SERVER_ERROR" });
    expect(out.extensions).not.toHaveProperty("stacktrace");
    expect(String(out.extensions?.requestId)).toMatch(/^[\w-]+$/);
  });

  it("passes typed errors through unchanged", () => {
    const out = formatError({ message: "not enough coins", extensions: { code: "BAD_USER_INPUT" } }, new GraphQLError("x"));
    expect(out).toEqual({ message: "not enough coins", extensions: { code: "BAD_USER_INPUT" } });
  });
});
