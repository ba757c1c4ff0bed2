import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { post, startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("skeleton");
});
afterAll(async () => {
  await stack?.stop();
});

describe("the walking skeleton, through the gateway", () => {
  it("lists the seeded gifts to anonymous callers, cheapest first within display order", async () => {
    const res = await stack.gql(`{ gifts { id slug name coinCost imageUrl } }`);
    expect(res.errors).toBeUndefined();
    const gifts = res.data.gifts as { slug: string; name: string; coinCost: number; imageUrl: string }[];
    expect(gifts.length).toBeGreaterThanOrEqual(20);
    expect(gifts[0]).toMatchObject({ slug: "rose", name: "Rose", coinCost: 1 });
    expect(gifts.find((g) => g.slug === "universe")?.coinCost).toBe(44999);
    expect(gifts[0].imageUrl).toMatch(/^https?:\/\/.+\/rose\.svg$/);
  });

  it("reads me { wallet { coins } } for a signed-in viewer", async () => {
    const token = await mintToken({ sub: "viewer-1", name: "Viewer One" });
    const res = await stack.gql(`{ me { id wallet { coins debt } } }`, {}, token);
    expect(res.errors).toBeUndefined();
    expect(res.data.me).toEqual({ id: "viewer-1", wallet: { coins: 0, debt: 0 } });
  });

  it("answers UNAUTHENTICATED without a token, with HTTP 200 and the field null", async () => {
    const res = await stack.gql(`{ me { id wallet { coins } } }`);
    expect(res.status).toBe(200);
    expect(res.data.me).toBeNull();
    expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("refuses a forged token at the gateway with 401 UNAUTHENTICATED", async () => {
    const forged = await mintToken({ sub: "mallory" }, { secret: "not-the-platform-secret-000000000000" });
    const res = await stack.gql(`{ me { id } }`, {}, forged);
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("subgraphs verify the token themselves: a forged token sent straight to a subgraph is refused", async () => {
    const forged = await mintToken({ sub: "mallory" }, { secret: "not-the-platform-secret-000000000000" });
    const res = await post(stack.subgraphs.wallet.url, `{ me { id } }`, {}, { token: forged, service: "wallet" });
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("resolves an entity across subgraphs: me (wallet) → creatorProfile (earnings)", async () => {
    const token = await mintToken({ sub: "host-1", name: "Host One", roles: ["viewer", "host"] });
    await stack.subgraphs.earnings.dataSource.query(`INSERT INTO earnings.creators (id, display_name) VALUES ('host-1', 'Host One')`);
    const res = await stack.gql(`{ me { id wallet { coins } creatorProfile { id displayName } } }`, {}, token);
    expect(res.errors).toBeUndefined();
    expect(res.data.me).toEqual({ id: "host-1", wallet: { coins: 0 }, creatorProfile: { id: "host-1", displayName: "Host One" } });
  });

  it("answers FORBIDDEN for someone else's wallet reached through another subgraph", async () => {
    await stack.subgraphs.earnings.dataSource.query(`INSERT INTO earnings.creators (id, display_name) VALUES ('host-2', 'Host Two') ON CONFLICT DO NOTHING`);
    const token = await mintToken({ sub: "nosy-viewer" });
    const res = await stack.gql(`{ creator(id: "host-2") { id user { id wallet { coins } } } }`, {}, token);
    expect(res.data.creator.user.wallet).toBeNull();
    expect(res.errors?.[0].extensions?.code).toBe("FORBIDDEN");
  });

  it("rejects malformed input with BAD_USER_INPUT, not a 500", async () => {
    const res = await stack.gql(`{ gift(id: "not-a-uuid") { id } }`);
    expect(res.status).toBe(200);
    expect(res.errors?.[0].extensions?.code).toBe("BAD_USER_INPUT");
  });
});

describe("health", () => {
  it("GET /health and /ready answer 200 on every service while the database answers", async () => {
    for (const s of [stack.gateway, stack.subgraphs.wallet, stack.subgraphs.catalog, stack.subgraphs.earnings]) {
      const base = s.url.replace(/\/graphql$/, "");
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/ready`)).status).toBe(200);
    }
  });
});
