import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TokenVerifier } from "../../platform/auth.js";
import { startWebServer, type RunningWebServer } from "../../web/server.js";

let dev: RunningWebServer;
let prod: RunningWebServer;
beforeAll(async () => {
  dev = await startWebServer({ port: 0, gatewayUrl: "http://127.0.0.1:4999/graphql", production: false });
  prod = await startWebServer({ port: 0, gatewayUrl: "https://api.example.com/graphql", production: true });
});
afterAll(async () => {
  await dev?.stop();
  await prod?.stop();
});

const mint = (base: string, body: unknown) =>
  fetch(`${base}/dev/token`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

describe("the web app's dev sign-in (POST /dev/token)", () => {
  it("mints a verifiable JWT for the chosen user in development", async () => {
    const res = await mint(dev.url, { sub: "alice", name: "Alice", roles: ["viewer", "host"] });
    expect(res.status).toBe(200);
    const { token, user } = await res.json();
    expect(user).toEqual({ id: "alice", name: "Alice", roles: ["viewer", "host"], region: "US" });
    const verified = await new TokenVerifier().verify(token);
    expect(verified).toMatchObject({ id: "alice", name: "Alice", roles: ["viewer", "host"] });
  });

  it("is refused (404) in production, and the app is told there is no dev sign-in", async () => {
    const res = await mint(prod.url, { sub: "mallory", roles: ["admin"] });
    expect(res.status).toBe(404);
    expect(await res.text()).not.toMatch(/eyJ/);
    const config = await (await fetch(`${prod.url}/config.json`)).json();
    expect(config).toEqual({ gatewayUrl: "https://api.example.com/graphql", gatewayWsUrl: "wss://api.example.com/graphql", devSignIn: false });
  });

  it("refuses malformed requests with 400: unknown roles, bad ids, not JSON", async () => {
    for (const body of [{ sub: "a", roles: ["superuser"] }, { sub: "" }, { sub: "x".repeat(65) }, { sub: "a b" }, { sub: "a", name: "n".repeat(65) }]) {
      expect((await mint(dev.url, body)).status, JSON.stringify(body)).toBe(400);
    }
    const notJson = await fetch(`${dev.url}/dev/token`, { method: "POST", body: "{nope" });
    expect(notJson.status).toBe(400);
  });

  it("serves the app's runtime config with the gateway it was started with", async () => {
    const config = await (await fetch(`${dev.url}/config.json`)).json();
    expect(config).toEqual({ gatewayUrl: "http://127.0.0.1:4999/graphql", gatewayWsUrl: "ws://127.0.0.1:4999/graphql", devSignIn: true });
  });
});
