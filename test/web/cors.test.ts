import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startWebServer, type RunningWebServer } from "../../web/server.js";
import { startWebStack, type WebStack } from "./support.js";

let w: WebStack;
let other: RunningWebServer;

beforeAll(async () => {
  // Only the app's origin is listed: a page on any other origin must be refused by the browser.
  w = await startWebStack("webcors", { corsOrigins: (webUrl) => webUrl });
  other = await startWebServer({ port: 0, gatewayUrl: w.stack.gateway.url, production: false });
});
afterAll(async () => {
  await other?.stop();
  await w?.stop();
});

/** From a page on `origin`, a preflighted call (authorization + JSON) to the gateway. */
async function callFrom(origin: string): Promise<string> {
  const page = await (await w.context()).newPage();
  await page.goto(`${origin}/config.json`);
  return page.evaluate(async (url) => {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: "Bearer x", "apollo-require-preflight": "true", "x-apollo-operation-name": "Gifts" },
        body: JSON.stringify({ query: "{ gifts { id } }" }),
      });
      return `status ${res.status}`;
    } catch (e) {
      return `blocked: ${(e as Error).name}`;
    }
  }, w.stack.gateway.url);
}

describe("CORS in a real browser", () => {
  it("lets the listed origin through the preflight (the gateway answers it, 401 for the bad token)", async () => {
    expect(await callFrom(w.web.url)).toBe("status 401");
  });

  it("blocks an origin that is not listed: the preflight carries no allow headers", async () => {
    const origin = other.url.replace("localhost", "127.0.0.1");
    expect(await callFrom(origin)).toBe("blocked: TypeError");
    const res = await fetch(w.stack.gateway.url, {
      method: "OPTIONS",
      headers: { origin, "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" },
    });
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
