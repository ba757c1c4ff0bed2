import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, opened, subscribe, until, user } from "./helpers.js";

let stack: Stack;
let gifts: { id: string; name: string; imageUrl: string }[];
let hostToken: string;

const CREATE = `mutation { createOverlayToken { token url overlayToken { id } userErrors { code message } } }`;
const REVOKE = `mutation($id: ID!) { revokeOverlayToken(input: { id: $id }) { overlayToken { id revokedAt } userErrors { code } } }`;
const TEST_GIFT = `mutation($g: ID!, $q: Int) { sendTestGift(input: { giftId: $g, quantity: $q }) { giftEvent { id isTest quantity coins } userErrors { code } } }`;
const HOST_STREAM = `subscription($hostId: ID, $after: String) {
  giftReceived(hostId: $hostId, after: $after) { id cursor isTest senderName quantity diamonds gift { name imageUrl } }
}`;

async function createOverlay(token = hostToken): Promise<{ token: string; url: string; id: string }> {
  const r = await stack.gql(CREATE, {}, token);
  expect(r.errors).toBeUndefined();
  expect(r.data.createOverlayToken.userErrors).toEqual([]);
  return { token: r.data.createOverlayToken.token, url: r.data.createOverlayToken.url, id: r.data.createOverlayToken.overlayToken.id };
}

function overlay(token: string, query = HOST_STREAM, variables: Record<string, unknown> = { hostId: "ov-host" }) {
  return subscribe(stack.gateway.url, null, query, variables, { overlayToken: token });
}

beforeAll(async () => {
  stack = await startStack("overlay");
  gifts = await catalogGifts(stack);
  await makeHost(stack, "ov-host");
  await makeHost(stack, "ov-other");
  hostToken = await stack.token({ sub: "ov-host", name: "Olive", roles: ["viewer", "host"] });
});
afterAll(async () => {
  await stack?.stop();
});

describe("createOverlayToken", () => {
  it("gives a host a secret token and the overlay's absolute URL, storing only a hash", async () => {
    const o = await createOverlay();
    expect(o.token).toMatch(/^ovl_[A-Za-z0-9_-]{43}$/);
    expect(o.url).toBe(`http://localhost:4080/overlay#token=${o.token}&host=ov-host`);
    const rows = await stack.subgraphs.earnings.dataSource.query(`SELECT * FROM earnings.overlay_tokens WHERE id = $1`, [o.id]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(o.token.slice(4));
  });

  it("refuses viewers without the host role", async () => {
    const viewer = await stack.token({ sub: "ov-viewer", roles: ["viewer"] });
    const r = await stack.gql(CREATE, {}, viewer);
    expect(r.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("an overlay connection (connection_init { overlayToken })", () => {
  it("streams its own host's gifts and nothing else: another host's stream and room feeds are FORBIDDEN", async () => {
    const o = await createOverlay();
    const sub = await opened(stack, () => overlay(o.token));
    await credit(stack, [item({ hostId: "ov-other", giftId: gifts[0].id }), item({ hostId: "ov-host", giftId: gifts[0].id, giftEventId: "ov-1" })]);
    const [e] = await sub.waitFor(1);
    expect(e.data.giftReceived).toMatchObject({ id: "ov-1", isTest: false, gift: { name: gifts[0].name }, diamonds: null });
    await sub.dispose();

    const other = overlay(o.token, HOST_STREAM, { hostId: "ov-other" });
    await other.waitForEnd();
    expect(other.errors[0]?.extensions?.code).toBe("FORBIDDEN");
    await other.dispose();
    const session = await stack.subgraphs.earnings.services.sessions.start(user("ov-other"), "other room");
    const room = overlay(o.token, `subscription($s: ID!) { liveGiftFeed(liveSessionId: $s) { id } }`, { s: session.id });
    await room.waitForEnd();
    expect(room.errors[0]?.extensions?.code).toBe("FORBIDDEN");
    await room.dispose();
  });

  it("closes open overlay sockets with 4403 when the token is revoked, and refuses it afterwards with 4401", async () => {
    const o = await createOverlay();
    const sub = await opened(stack, () => overlay(o.token));
    const r = await stack.gql(REVOKE, { id: o.id }, hostToken);
    expect(r.data.revokeOverlayToken.overlayToken.revokedAt).not.toBeNull();
    // "within a second" is the promise; the bound here is slack for a loaded CI machine.
    await until(() => sub.closed !== null, "the overlay socket to close", 5000);
    expect(sub.closed).toMatchObject({ code: 4403, reason: expect.stringMatching(/revoked/) });
    const again = overlay(o.token);
    await again.waitForEnd();
    expect(again.closed?.code).toBe(4401);
    await again.dispose();
  });

  it("refuses a made-up token with 4401", async () => {
    const sub = overlay("ovl_" + "x".repeat(43));
    await sub.waitForEnd();
    expect(sub.closed?.code).toBe(4401);
    await sub.dispose();
  });

  it("lets only the owner revoke a token (someone else's is NOT_FOUND)", async () => {
    const o = await createOverlay();
    const other = await stack.token({ sub: "ov-other", roles: ["host"] });
    const r = await stack.gql(REVOKE, { id: o.id }, other);
    expect(r.data.revokeOverlayToken.userErrors[0].code).toBe("NOT_FOUND");
  });
});

describe("sendTestGift", () => {
  it("puts a test gift (isTest) on the host's stream and overlay, and changes no diamonds, totals, leaderboard or coin ledger", async () => {
    const state = async () => {
      const [creator] = await stack.subgraphs.earnings.dataSource.query(
        `SELECT diamonds, lifetime_diamonds, gifts_received, coins_received FROM earnings.creators WHERE id = 'ov-host'`,
      );
      const [totals] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n FROM earnings.gifter_totals WHERE host_id = 'ov-host'`);
      const [ledger] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n FROM earnings.diamond_ledger WHERE creator_id = 'ov-host'`);
      const [coins] = await stack.subgraphs.wallet.dataSource.query(`SELECT count(*)::int AS n FROM wallet.ledger_entries`);
      const [sessions] = await stack.subgraphs.earnings.dataSource.query(`SELECT coalesce(sum(gift_count), 0)::int AS n FROM earnings.live_sessions WHERE host_id = 'ov-host'`);
      return { creator, totals: totals.n, ledger: ledger.n, coins: coins.n, sessions: sessions.n };
    };
    const live = await stack.subgraphs.earnings.services.sessions.start(user("ov-host"), "test room");
    const before = await state();
    const o = await createOverlay();
    const host = await opened(stack, () => subscribe(stack.gateway.url, hostToken, HOST_STREAM, { hostId: "ov-host" }));
    const ov = await opened(stack, () => overlay(o.token));
    const room = await opened(stack, () => subscribe(stack.gateway.url, null, `subscription($s: ID!) { liveGiftFeed(liveSessionId: $s) { id isTest } }`, { s: live.id }));

    const r = await stack.gql(TEST_GIFT, { g: gifts[1].id, q: 3 }, hostToken);
    expect(r.data.sendTestGift).toMatchObject({ giftEvent: { isTest: true, quantity: 3, coins: 0 }, userErrors: [] });
    const [h] = await host.waitFor(1);
    const [v] = await ov.waitFor(1);
    expect(h.data.giftReceived).toMatchObject({ isTest: true, quantity: 3, diamonds: 0, senderName: "Test gift", gift: { name: gifts[1].name } });
    expect(v.data.giftReceived.id).toBe(h.data.giftReceived.id);
    // A real gift afterwards reaches the room; the test gift never did.
    await credit(stack, [item({ hostId: "ov-host", giftId: gifts[0].id, liveSessionId: live.id, giftEventId: "ov-real" })]);
    const [first] = await room.waitFor(1);
    expect(first.data.liveGiftFeed).toEqual({ id: "ov-real", isTest: false });
    expect(await state()).toEqual(before);
    await Promise.all([host.dispose(), ov.dispose(), room.dispose()]);
  });

  it("is rate limited per host (a burst of 20, then 1 per second): RATE_LIMITED with HTTP 429", async () => {
    const spammer = await stack.token({ sub: "ov-spam", roles: ["host"] });
    const results = [];
    for (let i = 0; i < 25; i++) results.push(await stack.gql(TEST_GIFT, { g: gifts[0].id }, spammer));
    const ok = results.filter((r) => r.data?.sendTestGift?.giftEvent);
    const limited = results.filter((r) => r.errors?.[0]?.extensions?.code === "RATE_LIMITED");
    expect(ok.length).toBeGreaterThanOrEqual(20);
    expect(ok.length).toBeLessThan(25);
    expect(limited.length).toBe(25 - ok.length);
    expect(limited[0].status).toBe(429);
  });

  it("is for hosts only and bounds quantity to 1..99", async () => {
    const viewer = await stack.token({ sub: "ov-viewer", roles: ["viewer"] });
    expect((await stack.gql(TEST_GIFT, { g: gifts[0].id }, viewer)).errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
    expect((await stack.gql(TEST_GIFT, { g: gifts[0].id }, null as unknown as string)).errors?.[0]?.extensions?.code).toBe("UNAUTHENTICATED");
    for (const q of [0, 100]) expect((await stack.gql(TEST_GIFT, { g: gifts[0].id, q }, hostToken)).errors?.[0]?.extensions?.code).toBe("BAD_USER_INPUT");
  });
});
