import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { subgraphPost } from "../../gateway/fetcher.js";

/** The gateway's subgraph transport (node:http keep-alive pool, under gateway/data-source.ts): answers, typed failures, no retries. */
let server: http.Server;
let base: string;
const hits: Record<string, number> = {};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    hits[req.url!] = (hits[req.url!] ?? 0) + 1;
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      if (req.url === "/echo") {
        res.setHeader("content-type", "application/json");
        res.setHeader("cache-control", "max-age=0");
        res.end(JSON.stringify({ method: req.method, body: JSON.parse(body), auth: req.headers.authorization ?? null }));
      } else if (req.url === "/error") {
        res.statusCode = 500;
        res.end("boom");
      } else if (req.url === "/refused-coded") {
        res.writeHead(400, { "content-type": "application/json; charset=utf-8" });
        res.end(JSON.stringify({ errors: [{ message: "Variable \"$at\" got invalid value \"yesterday\"", extensions: { code: "BAD_USER_INPUT" } }] }));
      } else if (req.url === "/refused-uncoded") {
        res.writeHead(400, { "content-type": "application/json" });
        res.end(JSON.stringify({ errors: [{ message: "no code here" }] }));
      } else if (req.url === "/refused-html") {
        res.writeHead(400, { "content-type": "text/html" });
        res.end("<h1>Bad Request</h1>");
      } else if (req.url === "/hang-body") {
        res.writeHead(200, { "content-type": "application/json" });
        res.write('{"data":');
      }
      // "/hang": never answers
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

describe("subgraphPost", () => {
  const json = (body: Buffer) => JSON.parse(body.toString("utf8"));

  it("posts the body and headers and returns the status, headers and the whole body as one buffer", async () => {
    const post = subgraphPost("catalog", 2000);
    for (let i = 0; i < 3; i++) {
      const res = await post(`${base}/echo`, { "content-type": "application/json", authorization: "Bearer t" }, JSON.stringify({ query: "{ x }", i }));
      expect(res.status).toBe(200);
      expect(res.headers["cache-control"]).toBe("max-age=0");
      expect(json(res.body)).toEqual({ method: "POST", body: { query: "{ x }", i }, auth: "Bearer t" });
    }
  });

  it("passes a subgraph's error status through (the data source turns it into a typed error)", async () => {
    const res = await subgraphPost("catalog", 2000)(`${base}/error`, {}, "{}");
    expect(res.status).toBe(500);
    expect(res.body.toString("utf8")).toBe("boom");
  });

  it("hands a 4xx GraphQL answer whose errors all carry a code to the gateway as the GraphQL response it is (status 200, body unchanged)", async () => {
    const res = await subgraphPost("catalog", 2000)(`${base}/refused-coded`, {}, "{}");
    expect(res.status).toBe(200);
    expect(json(res.body).errors[0]).toMatchObject({ extensions: { code: "BAD_USER_INPUT" }, message: expect.stringContaining("yesterday") });
  });

  it("keeps a 4xx without coded GraphQL errors (or not JSON) a failure, which the gateway masks", async () => {
    expect((await subgraphPost("catalog", 2000)(`${base}/refused-uncoded`, {}, "{}")).status).toBe(400);
    expect((await subgraphPost("catalog", 2000)(`${base}/refused-html`, {}, "{}")).status).toBe(400);
  });

  it("fails with SUBGRAPH_TIMEOUT when no answer comes in time, and never retries", async () => {
    const before = hits["/hang"] ?? 0;
    await expect(subgraphPost("wallet", 150)(`${base}/hang`, {}, "{}")).rejects.toMatchObject({ extensions: { code: "SUBGRAPH_TIMEOUT", serviceName: "wallet" } });
    expect((hits["/hang"] ?? 0) - before).toBe(1);
  });

  it("fails with SUBGRAPH_TIMEOUT when the body stops halfway", async () => {
    await expect(subgraphPost("wallet", 150)(`${base}/hang-body`, {}, "{}")).rejects.toMatchObject({ extensions: { code: "SUBGRAPH_TIMEOUT" } });
  });

  it("fails with SUBGRAPH_UNAVAILABLE when nothing listens", async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(subgraphPost("earnings", 2000)(`http://127.0.0.1:${port}/graphql`, {}, "{}")).rejects.toMatchObject({ extensions: { code: "SUBGRAPH_UNAVAILABLE" } });
  });
});
