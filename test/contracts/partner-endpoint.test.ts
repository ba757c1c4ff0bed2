import "reflect-metadata";
import { buildSchema, type GraphQLObjectType } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../../gateway/index.js";
import { PartnerKeyStore } from "../../gateway/partner/keys.js";
import type { ComposedSchemas } from "../../scripts/compose.js";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { sql } from "../support/db.js";
import { post, startStack, type Stack, type StackGatewayOptions } from "../support/stack.js";
import { makeHost, until } from "../stream/helpers.js";

/**
 * The partner endpoint over real sockets: the whole stack, plus gateways with the
 * partner endpoint enabled on the stack's database (the gateway-owned `partners` schema).
 */
let stack: Stack;
let composed: ComposedSchemas;
let gateway: RunningGateway;
let second: RunningGateway;
let store: PartnerKeyStore;
let partnerUrl: string;

async function partnerGateway(extra: StackGatewayOptions = {}): Promise<RunningGateway> {
  return stack.startGateway({ databaseUrl: stack.databaseUrl, ...extra });
}

beforeAll(async () => {
  stack = await startStack("partner");
  composed = stack.composed;
  gateway = await partnerGateway();
  second = await partnerGateway();
  partnerUrl = gateway.url.replace(/\/graphql$/, "/partner/graphql");
  store = await PartnerKeyStore.open(stack.databaseUrl, { migrate: false, poolSize: 2 });
});
afterAll(async () => {
  await store?.close();
  await second?.stop();
  await gateway?.stop();
  await stack?.stop();
});

const partnerQuery = (query: string, key?: string, url = partnerUrl, headers: Record<string, string> = {}) =>
  post(url, query, {}, { headers: { ...(key ? { "x-api-key": key } : {}), ...headers } });

async function newKey(ratePerMinute = 600, burst?: number): Promise<string> {
  return (await store.create({ partner: `acme-${Math.random().toString(36).slice(2, 8)}`, ratePerMinute, burst })).key;
}

describe("the partner endpoint /partner/graphql", () => {
  it("lets a partner key read the public gift catalog", async () => {
    const key = await newKey();
    const res = await partnerQuery(`{ gifts { id name coinCost imageUrl } giftCategories { key name } }`, key);
    expect(res.errors).toBeUndefined();
    expect(res.status).toBe(200);
    expect(res.data.gifts.length).toBeGreaterThan(0);
    expect(res.data.gifts[0]).toMatchObject({ name: expect.any(String), coinCost: expect.any(Number) });
    const one = await partnerQuery(`{ gift(id: "${res.data.gifts[0].id}") { id name } }`, key);
    expect(one.data.gift).toEqual({ id: res.data.gifts[0].id, name: res.data.gifts[0].name });
  });

  it("answers wallets, the caller, earnings and payouts with validation errors, not nulls", async () => {
    const key = await newKey();
    const refused: [string, RegExp][] = [
      [`{ me { id wallet { coins } } }`, /Cannot query field "me" on type "Query"/],
      [`{ gifts { id } me { id } }`, /Cannot query field "me" on type "Query"/],
      [`{ creator(id: "host-1") { id diamonds } }`, /Cannot query field "diamonds" on type "Creator"/],
      [`{ creator(id: "host-1") { payouts { nodes { id } } } }`, /Cannot query field "payouts" on type "Creator"/],
      [`{ creator(id: "host-1") { user { wallet { coins } } } }`, /Cannot query field "wallet" on type "User"/],
    ];
    for (const [q, message] of refused) {
      const res = await partnerQuery(q, key);
      expect(res.status, q).toBe(400);
      expect(res.data, q).toBeUndefined();
      expect(res.errors?.[0].extensions?.code, q).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(res.errors?.[0].message, q).toMatch(message);
    }
    // The same public parts of a creator are readable.
    const ok = await partnerQuery(`{ creator(id: "nobody-here") { id displayName giftsReceived } }`, key);
    expect(ok.errors).toBeUndefined();
    expect(ok.data).toEqual({ creator: null });
    // Every root field of the full API outside the contract is refused the same way.
    const api = buildSchema(composed.apiSchema);
    const contract = buildSchema(composed.contracts.partner.apiSchema);
    const outside = Object.keys((api.getQueryType() as GraphQLObjectType).getFields()).filter((f) => !contract.getQueryType()!.getFields()[f]);
    expect(outside.length).toBeGreaterThan(0);
    for (const field of outside) {
      const res = await partnerQuery(`{ ${field} { __typename } }`, key);
      expect(res.errors?.[0].extensions?.code, field).toBe("GRAPHQL_VALIDATION_FAILED");
      expect(res.data, field).toBeUndefined();
    }
  });

  it("refuses every mutation: the contract has none (sendGift, recharge, payouts)", async () => {
    const key = await newKey();
    const res = await partnerQuery(`mutation { sendGift(input: { giftId: "x", hostId: "y", idempotencyKey: "k" }) { userErrors { code } } }`, key);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    expect(res.data).toBeUndefined();
  });

  it("applies the gateway's operation limits to partners too (aliases, tokens)", async () => {
    const key = await newKey();
    const aliased = `{ ${Array.from({ length: 40 }, (_, i) => `a${i}: giftCategories { key }`).join(" ")} }`;
    const res = await partnerQuery(aliased, key);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe("TOO_MANY_ALIASES");
    const huge = `{ ${"giftCategories { key name sortOrder } ".repeat(600)} }`;
    const tokens = await partnerQuery(huge, key);
    expect(tokens.status).toBe(400);
    expect(tokens.errors?.[0].extensions?.code).toBe("TOO_MANY_TOKENS");
  });

  it("shows only the contract in introspection", async () => {
    const key = await newKey();
    const res = await partnerQuery(`{ __schema { types { name } queryType { fields { name } } mutationType { name } } }`, key);
    expect(res.errors).toBeUndefined();
    const contract = buildSchema(composed.contracts.partner.apiSchema);
    const names = (res.data.__schema.types as { name: string }[]).map((t) => t.name).sort();
    expect(names).toEqual(Object.keys(contract.getTypeMap()).sort());
    expect(names).not.toContain("Wallet");
    // The only mutations partners have manage their own webhook subscriptions.
    expect(res.data.__schema.mutationType).toEqual({ name: "Mutation" });
    // The main endpoint is unchanged: it still knows the wallet.
    const main = await post(gateway.url, `{ __type(name: "Wallet") { name } }`);
    expect(main.data.__type).toEqual({ name: "Wallet" });
  });

  it("refuses requests without a key, with a malformed key and with a wrong secret (401 UNAUTHENTICATED)", async () => {
    const good = await newKey();
    const wrongSecret = good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA");
    for (const key of [undefined, "not-a-key", wrongSecret]) {
      const res = await partnerQuery(`{ gifts { id } }`, key);
      expect(res.status).toBe(401);
      expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
      expect(res.data).toBeUndefined();
    }
  });

  it("does not accept a platform user's token in place of an API key", async () => {
    const token = await stack.token({ sub: "viewer-1", name: "Viewer", roles: ["viewer", "admin"] });
    const res = await post(partnerUrl, `{ gifts { id } }`, {}, { token });
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
  });

  it("refuses a revoked key at once", async () => {
    const { key, info } = await store.create({ partner: "revokee", ratePerMinute: 600 });
    expect((await partnerQuery(`{ gifts { id } }`, key)).status).toBe(200);
    await store.revoke({ keyId: info.keyId });
    const res = await partnerQuery(`{ gifts { id } }`, key);
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe("UNAUTHENTICATED");
    expect(res.errors?.[0].message).toMatch(/revoked/);
  });

  it("rotates a key: the new key works; the old one at once, or after its grace period when given", async () => {
    const { key: old, info } = await store.create({ partner: "rotator", ratePerMinute: 600 });
    const graceful = await store.rotate({ keyId: info.keyId }, 3600);
    expect((await partnerQuery(`{ gifts { id } }`, old)).status).toBe(200);
    expect((await partnerQuery(`{ gifts { id } }`, graceful.key)).status).toBe(200);
    const immediate = await store.rotate({ keyId: graceful.info.keyId }, 0);
    expect((await partnerQuery(`{ gifts { id } }`, graceful.key)).status).toBe(401);
    expect((await partnerQuery(`{ gifts { id } }`, immediate.key)).status).toBe(200);
    // The first key is still inside its grace period; revoking the partner ends every key.
    await store.revoke({ partner: "rotator" });
    expect((await partnerQuery(`{ gifts { id } }`, old)).status).toBe(401);
    expect((await partnerQuery(`{ gifts { id } }`, immediate.key)).status).toBe(401);
  });

  it("stores only a SHA-256 of the key, never the key or its secret", async () => {
    const { key, info } = await store.create({ partner: "hashcheck", ratePerMinute: 600 });
    const db = await sql(stack.databaseUrl);
    try {
      const { rows } = await db.query(`SELECT row_to_json(k)::text AS j, encode(secret_hash, 'hex') AS h FROM partners.api_keys k WHERE key_id = $1`, [info.keyId]);
      expect(rows).toHaveLength(1);
      // gep_<key id>_<secret>: the secret is everything after the second "_" (base64url may contain "_" itself).
      const secret = key.slice(key.indexOf("_", "gep_".length) + 1);
      expect(secret.length).toBeGreaterThanOrEqual(40);
      expect(rows[0].j).not.toContain(secret);
      expect(rows[0].h).toHaveLength(64);
      expect(rows[0].j).not.toContain(key);
    } finally {
      await db.end();
    }
  });

  it("answers over the key's own rate limit with a typed RATE_LIMITED error, HTTP 429 and Retry-After; other keys are unaffected", async () => {
    const limited = await newKey(1, 3);
    const other = await newKey(1, 3);
    for (let i = 0; i < 3; i++) expect((await partnerQuery(`{ gifts { id } }`, limited)).status).toBe(200);
    const res = await partnerQuery(`{ gifts { id } }`, limited);
    expect(res.status).toBe(429);
    expect(res.data).toBeUndefined();
    expect(res.errors?.[0].extensions?.code).toBe("RATE_LIMITED");
    const retryAfter = res.errors?.[0].extensions?.retryAfterSeconds;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(res.headers.get("retry-after")).toBe(String(retryAfter));
    expect((await partnerQuery(`{ gifts { id } }`, other)).status).toBe(200);
  });

  it("enforces one limit per key across gateway instances under concurrent requests (exactly the burst gets through)", async () => {
    const key = await newKey(1, 5);
    const secondUrl = second.url.replace(/\/graphql$/, "/partner/graphql");
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) => partnerQuery(`{ giftCategories { key } }`, key, i % 2 ? secondUrl : partnerUrl)),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(5);
    expect(statuses.filter((s) => s === 429)).toHaveLength(19);
  });

  it("records when a key was last used, for operators", async () => {
    const { key, info } = await store.create({ partner: "usage", ratePerMinute: 600 });
    expect((await store.list("usage")).find((k) => k.keyId === info.keyId)?.lastUsedAt).toBeNull();
    await partnerQuery(`{ gifts { id } }`, key);
    const listed = (await store.list("usage")).find((k) => k.keyId === info.keyId);
    expect(listed?.lastUsedAt).toBeInstanceOf(Date);
    expect(listed?.active).toBe(true);
  });
});

/** One partner graphql-ws connection (one socket) that can carry several subscriptions. */
function partnerSocket(gw: RunningGateway, key: string) {
  const url = gw.url.replace(/^http/, "ws").replace(/\/graphql$/, "/partner/graphql");
  const state = { closed: null as { code: number; reason: string } | null };
  const client: Client = createClient({ url, webSocketImpl: WebSocket, connectionParams: { "x-api-key": key }, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined });
  client.on("closed", (ev) => {
    const e = ev as { code: number; reason: string };
    state.closed ??= { code: e.code, reason: String(e.reason) };
  });
  const subscribe = (liveSessionId: string) => {
    const sub = { events: [] as unknown[], errors: [] as any[], closed: null as { code: number; reason: string } | null };
    client.subscribe(
      { query: `subscription($id: ID!) { liveGiftFeed(liveSessionId: $id) { id } }`, variables: { id: liveSessionId } },
      {
        next: (v) => (v.errors ? sub.errors.push(...v.errors) : sub.events.push(v.data)),
        error: (e) => {
          if (Array.isArray(e)) sub.errors.push(...e);
          else if (e && typeof (e as { code?: unknown }).code === "number") sub.closed = { code: (e as { code: number }).code, reason: String((e as { reason?: string }).reason) };
          else sub.errors.push({ message: String(e) });
        },
        complete: () => undefined,
      },
    );
    return sub;
  };
  return { state, subscribe, dispose: () => client.dispose() };
}

async function liveSessionOf(hostId: string): Promise<string> {
  await makeHost(stack, hostId);
  const s = await stack.subgraphs.earnings.services.sessions.start({ id: hostId, name: hostId, roles: ["host"], region: "US", adult: true, exp: undefined }, "Revocation show");
  return s.id;
}

/** Waits until `n` more subscriptions reached the earnings stream (the partner's feed is really open). */
async function openedUpstream(n: number, open: () => void): Promise<void> {
  const before = stack.subgraphs.earnings.services.stream.stats.opened;
  open();
  await until(() => stack.subgraphs.earnings.services.stream.stats.opened >= before + n, "the partner subscriptions to reach earnings");
}

describe("revoking a partner key with open WebSockets", () => {
  it("closes the key's open sockets on every gateway instance within about a second (NOTIFY, not the 30 s re-check)", async () => {
    const { key, info } = await store.create({ partner: "live-revokee", ratePerMinute: 600 });
    const session = await liveSessionOf("host-rv1");
    const a = partnerSocket(gateway, key);
    const b = partnerSocket(second, key);
    try {
      await openedUpstream(2, () => {
        a.subscribe(session);
        b.subscribe(session);
      });
      await store.revoke({ keyId: info.keyId });
      // The periodic re-check of these gateways runs every 30 s: only the notification can close them this soon.
      await until(() => a.state.closed !== null && b.state.closed !== null, "both instances to close the revoked key's sockets", 3_000);
      expect(a.state.closed).toMatchObject({ code: 4401, reason: expect.stringMatching(/revoked/) });
      expect(b.state.closed).toMatchObject({ code: 4401, reason: expect.stringMatching(/revoked/) });
    } finally {
      await a.dispose();
      await b.dispose();
    }
  });

  it("refuses a new subscription on an open socket at once, even before any notification arrives", async () => {
    const { key, info } = await store.create({ partner: "quiet-revokee", ratePerMinute: 600 });
    const session = await liveSessionOf("host-rv2");
    const socket = partnerSocket(second, key);
    const db = await sql(stack.databaseUrl);
    try {
      await openedUpstream(1, () => socket.subscribe(session));
      // Revoked without the trigger's NOTIFY (as if it were lost): only the check at subscribe time can refuse.
      await db.query(`ALTER TABLE partners.api_keys DISABLE TRIGGER api_keys_changed`);
      try {
        await store.revoke({ keyId: info.keyId });
      } finally {
        await db.query(`ALTER TABLE partners.api_keys ENABLE TRIGGER api_keys_changed`);
      }
      expect(socket.state.closed).toBeNull();
      const late = socket.subscribe(session);
      await until(() => late.errors.length > 0 || late.closed !== null || socket.state.closed !== null, "the new subscription to be refused", 3_000);
      expect(late.events).toEqual([]);
      if (late.errors.length) expect(late.errors[0]).toMatchObject({ extensions: { code: "UNAUTHENTICATED" }, message: expect.stringMatching(/revoked/) });
      await until(() => socket.state.closed !== null, "the socket to close");
      expect(socket.state.closed).toMatchObject({ code: 4401, reason: expect.stringMatching(/revoked/) });
    } finally {
      await db.end();
      await socket.dispose();
    }
  });
});

describe("partner keys (operator store)", () => {
  it("refuses bad partner names and limits, and ambiguous rotations", async () => {
    await expect(store.create({ partner: "Bad Name", ratePerMinute: 10 })).rejects.toThrow(/partner name/);
    await expect(store.create({ partner: "ok", ratePerMinute: 0 })).rejects.toThrow(/rate/);
    await store.create({ partner: "twokeys", ratePerMinute: 10 });
    await store.create({ partner: "twokeys", ratePerMinute: 10 });
    await expect(store.rotate({ partner: "twokeys" })).rejects.toThrow(/2 active keys/);
    await expect(store.revoke({ keyId: "0000000000000000" })).rejects.toThrow(/no active key/);
  });

  it("issues distinct keys that carry their public key id", async () => {
    const a = await store.create({ partner: "distinct", ratePerMinute: 10 });
    const b = await store.create({ partner: "distinct", ratePerMinute: 10 });
    expect(a.key).not.toBe(b.key);
    expect(a.key).toMatch(new RegExp(`^gep_${a.info.keyId}_[A-Za-z0-9_-]{43}$`));
  });
});

describe("a gateway without a database", () => {
  it("answers /partner/graphql with 503 and keeps serving /graphql", async () => {
    const bare = await stack.startGateway();
    try {
      const res = await partnerQuery(`{ gifts { id } }`, "x", bare.url.replace(/\/graphql$/, "/partner/graphql"));
      expect(res.status).toBe(503);
      expect((await post(bare.url, `{ gifts { id } }`)).status).toBe(200);
    } finally {
      await bare.stop();
    }
  });
});

describe("an address that keeps presenting bad keys", () => {
  it("is refused with RATE_LIMITED (429, Retry-After) before any key lookup; a missing key does not count, and other addresses are unaffected", async () => {
    const strict = await partnerGateway({ migrate: false, partnerInvalidKeyLimit: { capacity: 3, refillPerSecond: 0.01 } });
    const url = strict.url.replace(/\/graphql$/, "/partner/graphql");
    const good = await newKey();
    const forged = good.slice(0, -4) + "AAAA";
    try {
      for (let i = 0; i < 5; i++) expect((await partnerQuery(`{ gifts { id } }`, undefined, url)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      for (let i = 0; i < 3; i++) expect((await partnerQuery(`{ gifts { id } }`, forged, url)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
      const refused = await partnerQuery(`{ gifts { id } }`, good, url);
      expect(refused.status).toBe(429);
      expect(refused.errors?.[0]?.extensions).toMatchObject({ code: "RATE_LIMITED", retryAfterSeconds: expect.any(Number) });
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      // The limit is per address and per gateway instance: the same good key works elsewhere.
      expect((await partnerQuery(`{ gifts { id } }`, good)).errors).toBeUndefined();
    } finally {
      await strict.stop();
    }
  });

  it("reads the client address behind trusted proxies from X-Forwarded-For, right to left, never the client's own claim", async () => {
    const { clientAddress } = await import("../../platform/http.js");
    const req = (xff?: string) => ({ socket: { remoteAddress: "10.0.0.9" }, headers: xff ? { "x-forwarded-for": xff } : {} }) as never;
    expect(clientAddress(req("1.2.3.4"), 0)).toBe("10.0.0.9");
    expect(clientAddress(req("6.6.6.6, 1.2.3.4"), 1)).toBe("1.2.3.4");
    expect(clientAddress(req("6.6.6.6, 1.2.3.4, 10.0.0.2"), 2)).toBe("1.2.3.4");
    expect(clientAddress(req(), 1)).toBe("10.0.0.9");
  });
});
