import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import type { RunningGateway } from "../../gateway/index.js";
import { connectRaw, subscribeRaw } from "../support/raw-ws.js";
import { post } from "../support/http.js";
import { PRODUCTION_SECRETS, startStack, type Stack } from "../support/stack.js";

/**
 * What the schema gives away, and what reaches a subgraph directly: production answers a typo
 * without "Did you mean …?" (introspection is off there, suggestions would undo it), aliased
 * introspection fields count against the alias limit, and each subgraph applies the operation
 * limits itself (it is reachable without the gateway).
 */
let stack: Stack;
let prod: RunningGateway;
const PROD_SECRET = PRODUCTION_SECRETS.JWT_SECRET;
beforeAll(async () => {
  // The subgraphs (development mode) and the production gateway share one service secret.
  stack = await startStack("schemaleaks", { env: { SERVICE_SECRET: PRODUCTION_SECRETS.SERVICE_SECRET } });
  // Production configuration is read once at start-up (as in production.test.ts).
  prod = await stack.startGateway({ env: { NODE_ENV: "production", ...PRODUCTION_SECRETS } });
}, 60_000);
afterAll(async () => {
  await stack?.stop();
});

const TYPO = `{ gifts { nmae } }`;

describe("suggestions in production", () => {
  it("development suggests the field (the control: the assertion below can fail)", async () => {
    const res = await stack.gql(TYPO);
    expect(res.errors?.[0].message).toMatch(/Did you mean "name"\?/);
  });

  it("production answers a misspelt field over HTTP with GRAPHQL_VALIDATION_FAILED and no suggestion", async () => {
    const res = await post(prod.url, TYPO);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(res.errors?.[0].message).toMatch(/Cannot query field "nmae"/);
    expect(JSON.stringify(res.errors)).not.toMatch(/Did you mean/);
  });

  it("production answers a misspelt subscription field over WebSocket with no suggestion", async () => {
    const token = await mintToken({ sub: "leak-host", roles: ["viewer", "host"] }, { secret: PROD_SECRET });
    const raw = await connectRaw(prod.url, { authorization: `Bearer ${token}` });
    const answer = await subscribeRaw(raw, "typo", `subscription { giftReceived(hostId: "leak-host") { cursr } }`);
    expect(answer.type).toBe("error");
    expect(answer.payload[0].extensions.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(answer.payload[0].message).toMatch(/Cannot query field "cursr"/);
    expect(JSON.stringify(answer.payload)).not.toMatch(/Did you mean/);
    await raw.close();
  });
});

describe("introspection aliases count", () => {
  const aliasedSchema = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `s${i}: __schema { types { name fields { name } } }`).join(" ")} }`;

  it("60 aliased __schema fields are refused with TOO_MANY_ALIASES before anything is answered", async () => {
    const res = await stack.gql(aliasedSchema(60));
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("TOO_MANY_ALIASES");
    expect(res.data).toBeUndefined();
  });

  it("aliases inside an introspection selection count too", async () => {
    const res = await stack.gql(`{ __schema { ${Array.from({ length: 31 }, (_, i) => `t${i}: types { name }`).join(" ")} } }`);
    expect(res.errors?.[0].extensions?.code).toBe("TOO_MANY_ALIASES");
  });

  it("one ordinary introspection query still works in development (depth and cost of introspection stay free)", async () => {
    const res = await stack.gql(`{ __schema { queryType { name } types { name kind fields { name type { name kind ofType { name kind ofType { name kind ofType { name kind ofType { name } } } } } } } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.__schema.queryType.name).toBe("Query");
  });
});

describe("operation limits in the subgraphs' own HTTP pipeline", () => {
  it("a 500-alias query straight to the catalog is refused (it answered 959 KB before): over 2,000 tokens, TOO_MANY_TOKENS", async () => {
    const res = await post(stack.subgraphs.catalog.url, `{ ${Array.from({ length: 500 }, (_, i) => `a${i}: gifts { id name imageUrl }`).join(" ")} }`, {}, { service: "catalog" });
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("TOO_MANY_TOKENS");
    expect(res.data).toBeUndefined();
  });

  it("31 aliases straight to the catalog (under the token limit) are refused with TOO_MANY_ALIASES", async () => {
    const res = await post(stack.subgraphs.catalog.url, `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: gifts { id name imageUrl }`).join(" ")} }`, {}, { service: "catalog" });
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("TOO_MANY_ALIASES");
    expect(res.data).toBeUndefined();
  });

  it.each([
    ["catalog", "TOO_MANY_TOKENS", `{ gifts { ${"id ".repeat(2100)} } }`],
    ["catalog", "QUERY_TOO_COMPLEX", `{ ${Array.from({ length: 12 }, (_, i) => `g${i}: gifts { priceHistory { id coinCost validFrom validUntil reason note recordedAt explanation } }`).join(" ")} }`],
    ["earnings", "QUERY_TOO_DEEP", `{ creator(id: "x") { ${"user { creatorProfile { ".repeat(7)}id${" } }".repeat(7)} } }`],
    ["wallet", "TOO_MANY_ALIASES", `{ ${Array.from({ length: 31 }, (_, i) => `c${i}: coinPackages { id }`).join(" ")} }`],
  ] as const)("%s refuses a direct request with %s", async (name, code, query) => {
    // Signed as the gateway: the limits hold even for a caller that is allowed in.
    const res = await post(stack.subgraphs[name].url, query, {}, { service: name });
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe(code);
  });

  it("the gateway's own queries through the subgraphs still work (a cross-subgraph read within the limits)", async () => {
    const res = await stack.gql(`{ gifts { id name priceHistory { coinCost } } giftCategories { key } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.gifts.length).toBeGreaterThan(0);
  });
});
