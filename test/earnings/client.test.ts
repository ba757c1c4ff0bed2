import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testSigner } from "../support/http.js";
import { mintToken } from "../../platform/auth.js";
import { EarningsClient } from "../../subgraphs/earnings/transport/owner-reads-client.js";
import { startEarnings } from "../../subgraphs/earnings/index.js";
import { createTestDatabase, sql } from "../support/db.js";
import { post } from "../support/stack.js";
import { eventually } from "../support/eventually.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let earnings: Awaited<ReturnType<typeof startEarnings>>;
let client: EarningsClient;


const hostToken = (sub: string, adult = true) => mintToken({ sub, name: `Host ${sub}`, roles: ["viewer", "host"], adult });

beforeAll(async () => {
  db = await createTestDatabase("earnclient");
  earnings = await startEarnings({ databaseUrl: db.url, port: 0, poolSize: 4 });
  // A TTL of a minute: anything that becomes visible sooner was invalidated by NOTIFY.
  client = new EarningsClient({ url: earnings.url, databaseUrl: db.url, signer: testSigner("wallet"), ttlMs: 60_000 });
  await client.start();
});
afterAll(async () => {
  await client?.stop();
  await earnings?.stop();
  await db?.drop();
});

const START = `mutation($t: String!) { startLiveSession(input: { title: $t }) { liveSession { id status } userErrors { code } } }`;
const END = `mutation($id: ID!) { endLiveSession(input: { id: $id }) { liveSession { id status } userErrors { code } } }`;

describe("EarningsClient (the wallet's owner read of hosts and live sessions)", () => {
  it("answers null for a user who is not a creator, and the creator once they act as a host (NOTIFY invalidates the cached null)", async () => {
    expect(await client.hostForGifting("host-a")).toBeNull();
    const token = await hostToken("host-a");
    const res = await post(earnings.url, `{ _entities(representations: [{ __typename: "User", id: "host-a" }]) { ... on User { creatorProfile { id } } } }`, {}, { token, service: "earnings" });
    expect(res.errors).toBeUndefined();
    await eventually(async () => expect(await client.hostForGifting("host-a")).toEqual({ id: "host-a", canReceive: true }));
  });

  it("serves repeated reads from the cache without asking the subgraph again", async () => {
    await client.hostForGifting("host-a");
    const before = client.fetches;
    const answers = await Promise.all(Array.from({ length: 20 }, () => client.hostForGifting("host-a")));
    expect(answers.every((a) => a?.canReceive === true)).toBe(true);
    expect(client.fetches).toBe(before);
  });

  it("collapses concurrent misses for one key into one request", async () => {
    const before = client.fetches;
    const answers = await Promise.all(Array.from({ length: 10 }, () => client.hostForGifting("nobody-1")));
    expect(answers).toEqual(Array(10).fill(null));
    expect(client.fetches).toBe(before + 1);
  });

  it("reports canReceive false for a host whose token says they are not an adult, and follows a refresh of the claim", async () => {
    const minor = await hostToken("host-minor", false);
    await post(earnings.url, START, { t: "first stream" }, { token: minor, service: "earnings" });
    await eventually(async () => expect(await client.hostForGifting("host-minor")).toEqual({ id: "host-minor", canReceive: false }));
    // Later the identity provider verifies them: the next act refreshes the claim and invalidates the cache.
    const adult = await hostToken("host-minor", true);
    await post(earnings.url, `{ _entities(representations: [{ __typename: "User", id: "host-minor" }]) { ... on User { creatorProfile { id } } } }`, {}, { token: adult, service: "earnings" });
    await eventually(async () => expect(await client.hostForGifting("host-minor")).toEqual({ id: "host-minor", canReceive: true }));
  });

  it("reads a live session's host and status, and sees it end", async () => {
    const token = await hostToken("host-live");
    const started = await post(earnings.url, START, { t: "evening show" }, { token, service: "earnings" });
    const id = started.data.startLiveSession.liveSession.id as string;
    expect(await client.liveSession(id)).toEqual({ id, hostId: "host-live", live: true });
    await post(earnings.url, END, { id }, { token, service: "earnings" });
    await eventually(async () => expect(await client.liveSession(id)).toEqual({ id, hostId: "host-live", live: false }));
  });

  it("answers null for an unknown or malformed session id", async () => {
    expect(await client.liveSession("7d3c1b8e-0000-4000-8000-000000000000")).toBeNull();
    expect(await client.liveSession("not-a-uuid")).toBeNull();
    expect(await client.hostForGifting("x".repeat(200))).toBeNull();
  });

  it("forwards the caller's Authorization header: a forged token is refused, not answered", async () => {
    const forged = await mintToken({ sub: "mallory" }, { secret: "not-the-platform-secret-000000000000" });
    await expect(client.hostForGifting("someone-else", `Bearer ${forged}`)).rejects.toThrow(/UNAUTHENTICATED/);
  });

  it("keeps the owner-read fields out of the public API schema (@inaccessible)", () => {
    expect(earnings.sdl).toMatch(/hostForGifting\(hostId: ID!\): HostForGifting @inaccessible/);
    expect(earnings.sdl).toMatch(/liveSessionForGifting\(id: ID!\): LiveSessionForGifting @inaccessible/);
  });

  it("survives losing its invalidation listener: it forgets what it cached, reconnects, and NOTIFY works again", async () => {
    const token = await hostToken("host-relisten");
    const started = await post(earnings.url, START, { t: "relisten" }, { token, service: "earnings" });
    const id = started.data.startLiveSession.liveSession.id as string;
    expect(await client.liveSession(id)).toEqual({ id, hostId: "host-relisten", live: true });
    const admin = await sql(db.url);
    try {
      const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'earnings-client'`);
      expect(killed.rowCount).toBeGreaterThan(0);
      // Reconnected once the listener is back (a fresh LISTEN connection appears).
      await eventually(async () => {
        const r = await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'earnings-client'`);
        expect(r.rows[0].n).toBeGreaterThan(0);
      });
    } finally {
      await admin.end();
    }
    const cached = await client.liveSession(id);
    expect(cached?.live).toBe(true);
    await post(earnings.url, END, { id }, { token, service: "earnings" });
    await eventually(async () => expect(await client.liveSession(id)).toEqual({ id, hostId: "host-relisten", live: false }));
  });

  it("caches nothing while it cannot listen for invalidations (a missed NOTIFY must not leave a stale host or session)", async () => {
    const deaf = new EarningsClient({ url: earnings.url, databaseUrl: "postgres://postgres@127.0.0.1:1/none", signer: testSigner("wallet"), ttlMs: 60_000 });
    await deaf.start();
    try {
      await deaf.hostForGifting("host-a");
      await deaf.hostForGifting("host-a");
      expect(deaf.fetches).toBe(2);
    } finally {
      await deaf.stop();
    }
  });

  it("fails loudly when the earnings subgraph cannot be reached (never guesses a host exists)", async () => {
    const down = new EarningsClient({ url: "http://127.0.0.1:1/graphql", databaseUrl: db.url, signer: testSigner("wallet") });
    await expect(down.hostForGifting("host-a")).rejects.toThrow(/earnings owner read failed/);
  });
});

describe("operator view of the gift consumer", () => {
  it("GET /consumers reports the events not yet applied while the consumer is stopped, and zero once it has caught up", async () => {
    const { produce, gift } = await import("./support.js");
    const base = earnings.url.replace(/\/graphql$/, "");
    await earnings.services.credits.stop();
    await produce(earnings.dataSource, [gift({ hostId: "ops-host", unitCost: 4 }), gift({ hostId: "ops-host", unitCost: 6 })]);
    const stalled = await (await fetch(`${base}/consumers`)).json();
    expect(stalled.consumers[0].pendingEvents).toBe(2);
    expect(stalled.consumers[0].oldestPendingAt).not.toBeNull();
    await earnings.services.credits.start();
    await eventually(async () => {
      const body = await (await fetch(`${base}/consumers`)).json();
      expect(body.consumers[0]).toMatchObject({ consumer: "earnings-gift-credits", pendingEvents: 0, oldestPendingAt: null });
      expect(body.consumers[0].sinceStart.credited).toBeGreaterThanOrEqual(2);
    });
  });
});
