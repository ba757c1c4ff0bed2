import "reflect-metadata";
import http, { type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGateway, type RunningGateway } from "../../gateway/index.js";
import { PartnerKeyStore } from "../../gateway/partner/keys.js";
import { SERVICE_HEADER } from "../../platform/service-auth.js";
import { createTestDatabase } from "../support/db.js";
import { post } from "../support/http.js";

/**
 * The partner endpoint runs on the one HTTP request pipeline (platform/http.ts) and the one
 * forwarding data source (gateway/data-source.ts). Its subgraphs here are one server that answers
 * every fetch with a body that is not JSON: the gateway fails unexpectedly and masks the error.
 */
let db: Awaited<ReturnType<typeof createTestDatabase>>;
let broken: http.Server;
let gateway: RunningGateway;
let store: PartnerKeyStore;
let key: string;
const seen: IncomingHttpHeaders[] = [];

beforeAll(async () => {
  db = await createTestDatabase("partnerpipe");
  broken = http.createServer((req, res) => {
    seen.push(req.headers);
    req.resume();
    req.on("end", () => res.writeHead(200, { "content-type": "application/json" }).end("{ this is not json"));
  });
  await new Promise<void>((r) => broken.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(broken.address() as AddressInfo).port}/graphql`;
  gateway = await startGateway({ port: 0, databaseUrl: db.url, subgraphUrls: { wallet: url, catalog: url, earnings: url } });
  store = await PartnerKeyStore.open(db.url, { migrate: false, poolSize: 2 });
  key = (await store.create({ partner: "acme-pipeline", ratePerMinute: 600 })).key;
});
afterAll(async () => {
  await store?.close();
  await gateway?.stop();
  await new Promise<void>((r) => (broken ? broken.close(() => r()) : r()));
  await db?.drop();
});

const partnerUrl = () => gateway.url.replace(/\/graphql$/, "/partner/graphql");

describe("the partner endpoint on the one request pipeline", () => {
  it("a masked error on /partner/graphql reports the same request id as the x-request-id header", async () => {
    const res = await post(partnerUrl(), "{ gifts { id } }", {}, { headers: { "x-api-key": key } });
    expect(res.errors?.[0]?.extensions?.code).toBe("INTERNAL_SERVER_ERROR");
    const id = res.headers.get("x-request-id");
    expect(id).toMatch(/^[\w-]+$/);
    expect(res.errors[0].extensions.requestId).toBe(id);
    expect(res.errors[0].message).toBe(`Internal error (request ${id})`);
    expect(JSON.stringify(res.errors)).not.toMatch(/not json|Unexpected token|SyntaxError/);
  });

  it("keeps the caller's x-request-id end to end: the masked error, the response header and the subgraph fetch", async () => {
    seen.length = 0;
    const res = await post(partnerUrl(), "{ gifts { id } }", {}, { headers: { "x-api-key": key, "x-request-id": "partner-req-42", authorization: "Bearer not-for-partners" } });
    expect(res.headers.get("x-request-id")).toBe("partner-req-42");
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: "INTERNAL_SERVER_ERROR", requestId: "partner-req-42" });
    // The one forwarding data source: signed, tagged with the key, the request id passed on, no user token forwarded.
    expect(seen.length).toBeGreaterThan(0);
    for (const h of seen) {
      expect(h["x-request-id"]).toBe("partner-req-42");
      expect(h["x-partner-key-id"]).toMatch(/\S/);
      expect(h[SERVICE_HEADER]).toMatch(/^Bearer /);
      expect(h.authorization).toBeUndefined();
    }
  });

  it("answers the same way as the main endpoint, whose pipeline it shares", async () => {
    const res = await post(gateway.url, "{ gifts { id } }", {}, { headers: { "x-request-id": "main-req-42" } });
    expect(res.headers.get("x-request-id")).toBe("main-req-42");
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: "INTERNAL_SERVER_ERROR", requestId: "main-req-42" });
  });
});
