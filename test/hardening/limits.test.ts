import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { TokenBuckets } from "../../platform/token-bucket.js";
import { startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("limits");
});
afterAll(async () => {
  await stack?.stop();
});

const raw = (body: string, headers: Record<string, string> = {}) =>
  fetch(stack.gateway.url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });

describe("gateway operation limits", () => {
  it("refuses a query deeper than 12 levels with QUERY_TOO_DEEP before any subgraph runs", async () => {
    let q = "id";
    for (let i = 0; i < 8; i++) q = `user { creatorProfile { ${q} } }`;
    stack.subgraphs.earnings.queries.reset();
    const res = await stack.gql(`{ creator(id: "x") { ${q} } }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("QUERY_TOO_DEEP");
    // Background work (the event consumer) queries too: look only for the creator lookup the query would cause.
    expect(stack.subgraphs.earnings.queries.queries.filter((q) => q.includes("creators"))).toEqual([]);
  });

  it("accepts a query at the depth limit", async () => {
    stack.subgraphs.earnings.queries.reset();
    const res = await stack.gql(`{ creator(id: "x") { user { creatorProfile { user { creatorProfile { id } } } } } }`);
    expect(res.errors).toBeUndefined();
    expect(res.data.creator).toBeNull();
    // The counter does see the lookup when the query runs (so the assertion above can fail).
    expect(stack.subgraphs.earnings.queries.queries.filter((q) => q.includes("creators")).length).toBeGreaterThan(0);
  });

  it("refuses an alias bomb with TOO_MANY_ALIASES", async () => {
    const fields = Array.from({ length: 31 }, (_, i) => `a${i}: gift(id: "00000000-0000-0000-0000-000000000000") { id }`).join(" ");
    const res = await stack.gql(`{ ${fields} }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("TOO_MANY_ALIASES");
  });

  it("refuses a cost bomb (nested lists) with QUERY_TOO_COMPLEX", async () => {
    // gifts is a list (default 20): 20 × (fields) repeated through fragments blows the budget.
    const res = await stack.gql(`{ g1: gifts { ...F } g2: gifts { ...F } g3: gifts { ...F } }
      fragment F on Gift { id slug name description coinCost category imageUrl animationUrl streakable availableFrom availableUntil regions status sortOrder
        a: id b: slug c: name d: description e: coinCost f: category g: imageUrl h: animationUrl i: streakable j: status k: sortOrder }`);
    // 3 lists × 20 × 25 fields = 1500 < 5000: allowed; now make it nest.
    expect(res.errors).toBeUndefined();
    const nested = `{ ${Array.from({ length: 12 }, (_, i) => `x${i}: gifts { ...F }`).join(" ")} }
      fragment F on Gift { id slug name description coinCost category imageUrl animationUrl streakable availableFrom availableUntil regions status sortOrder a: id b: slug c: name d: description e: coinCost f: category g: imageUrl }`;
    const bomb = await stack.gql(nested);
    expect(bomb.status).toBe(400);
    expect(bomb.errors?.[0].extensions?.code).toBe("QUERY_TOO_COMPLEX");
  });

  it("refuses more than 2000 tokens with TOO_MANY_TOKENS", async () => {
    const res = await stack.gql(`{ gifts { ${"id ".repeat(2100)} } }`);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("TOO_MANY_TOKENS");
  });

  it("runs a batch of up to 10 operations and refuses 11 with BATCH_TOO_LARGE", async () => {
    const op = { query: "{ gifts { id } }" };
    const ok = await raw(JSON.stringify(Array(10).fill(op)));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toHaveLength(10);
    const tooMany = await raw(JSON.stringify(Array(11).fill(op)));
    expect(tooMany.status).toBe(400);
    expect((await tooMany.json()).errors[0].extensions.code).toBe("BATCH_TOO_LARGE");
  });

  it("refuses an oversized body with 413 PAYLOAD_TOO_LARGE", async () => {
    const res = await raw(JSON.stringify({ query: "{ gifts { id } }", variables: { pad: "x".repeat(300 * 1024) } }));
    expect(res.status).toBe(413);
    expect((await res.json()).errors[0].extensions.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("answers invalid JSON with 400 BAD_REQUEST, not a 500", async () => {
    const res = await raw("{ not json");
    expect(res.status).toBe(400);
    expect((await res.json()).errors[0].extensions.code).toBe("BAD_REQUEST");
  });

  it("blocks a simple GET/form request without a preflight header (CSRF prevention)", async () => {
    const res = await fetch(`${stack.gateway.url}?query=${encodeURIComponent("{ gifts { id } }")}`);
    expect(res.status).toBe(400);
  });

  it("gives every response an x-request-id", async () => {
    const res = await raw(JSON.stringify({ query: "{ gifts { id } }" }));
    expect(res.headers.get("x-request-id")).toMatch(/^[\w-]+$/);
  });
});

describe("per-user rate limits on money mutations", () => {
  it("a bucket allows its burst, then says how long to wait, then refills", () => {
    let t = 0;
    const limiter = new TokenBuckets({ sendGift: { capacity: 3, refillPerSecond: 1 } }, () => t);
    expect([limiter.take("u", "sendGift"), limiter.take("u", "sendGift"), limiter.take("u", "sendGift")]).toEqual([0, 0, 0]);
    expect(limiter.take("u", "sendGift")).toBe(1);
    expect(limiter.take("other", "sendGift")).toBe(0); // per user
    t += 1000;
    expect(limiter.take("u", "sendGift")).toBe(0);
    expect(limiter.take("u", "me")).toBe(0); // not a money mutation
  });
});

describe("a subgraph that is down", () => {
  it("yields a typed SUBGRAPH_UNAVAILABLE error for its fields while the others still answer", async () => {
    const token = await mintToken({ sub: "down-user" });
    // Point a second gateway at a closed port for earnings.
    const gw = await stack.startGateway({ subgraphUrls: { earnings: "http://127.0.0.1:9/graphql" } });
    try {
      const res = await fetch(gw.url, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: "{ me { id wallet { coins } creatorProfile { id } } }" }),
      }).then((r) => r.json());
      expect(res.data.me).toEqual({ id: "down-user", wallet: { coins: 0 }, creatorProfile: null });
      expect(res.errors[0].extensions.code).toBe("SUBGRAPH_UNAVAILABLE");
      expect(res.errors[0].message).not.toMatch(/ECONNREFUSED|at .*\.js/);
    } finally {
      await gw.stop();
    }
  });
});
