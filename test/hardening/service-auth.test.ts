import "reflect-metadata";
import { SignJWT } from "jose";
import { createClient } from "graphql-ws";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../platform/config.js";
import { SERVICE_HEADER, SERVICE_ISSUER, SERVICE_PARAM, SERVICE_TYP, ServiceSigner, audienceOf } from "../../platform/service-auth.js";
import { catalogGifts, fund, goLive, key, sendGift, viewerToken } from "../gifting/support.js";
import { serviceHeaders } from "../support/http.js";
import { post, startStack, type Stack } from "../support/stack.js";
import { until } from "../stream/helpers.js";

/**
 * Finding 8: subgraphs trust only signed callers. Straight to a subgraph without the
 * service credential nothing answers (401 UNAUTHENTICATED, no data): not the owner reads,
 * not `_entities`, not `_service`, not a WebSocket stream. Through the gateway (and the
 * wallet's owner reads) everything still works.
 */
let stack: Stack;
let giftEventId: string;
let sessionId: string;
let giftId: string;

const HOST = `query($id: ID!) { hostForGifting(hostId: $id) { id canReceive } }`;
const SESSION = `query($id: ID!) { liveSessionForGifting(id: $id) { id hostId live } }`;
const SENDING = `query($ids: [ID!]!) { giftsForSending(ids: $ids, region: "US") { id coinCost sendable } }`;
const GIFT_EVENT = `query($r: [_Any!]!) { _entities(representations: $r) { ... on GiftEvent { id sender { id } coins } } }`;
const SDL = `{ _service { sdl } }`;

const secret = () => loadConfig().serviceSecret;
/** A credential built by hand, to vary one property at a time. */
async function credential(opts: { secret?: string; audience?: string; issuer?: string; typ?: string; lifetimeSeconds?: number; iatOffset?: number } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000) + (opts.iatOffset ?? 0);
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: "HS256", typ: opts.typ ?? SERVICE_TYP })
    .setIssuer(opts.issuer ?? SERVICE_ISSUER)
    .setSubject("gateway")
    .setAudience(opts.audience ?? audienceOf("earnings"))
    .setIssuedAt(now)
    .setExpirationTime(now + (opts.lifetimeSeconds ?? 60))
    .sign(new TextEncoder().encode(opts.secret ?? secret()));
  return `Bearer ${jwt}`;
}

function expectRefused(res: Awaited<ReturnType<typeof post>>, label: string): void {
  expect(res.status, label).toBe(401);
  expect(res.data ?? null, label).toBeNull();
  expect(res.errors?.[0].extensions?.code, label).toBe("UNAUTHENTICATED");
  expect(JSON.stringify(res.errors), label).not.toMatch(/canReceive|sdl|coins/);
}

beforeAll(async () => {
  stack = await startStack("serviceauth");
  sessionId = await goLive(stack, "sa-host");
  await fund(stack, "sa-fan", 100);
  giftId = (await catalogGifts(stack)).get("rose")!.id;
  const sent = await sendGift(stack, await viewerToken(stack, "sa-fan"), { giftId, hostId: "sa-host", liveSessionId: sessionId, expectedUnitCost: 1, idempotencyKey: key("sa") });
  expect(sent.payload?.userErrors).toEqual([]);
  giftEventId = sent.payload!.giftEvent.id;
}, 120_000);
afterAll(async () => {
  await stack?.stop();
});

describe("a subgraph called directly without the service credential", () => {
  it("refuses the earnings owner reads hostForGifting and liveSessionForGifting (401 UNAUTHENTICATED, no data)", async () => {
    const url = stack.subgraphs.earnings.url;
    expectRefused(await post(url, HOST, { id: "sa-host" }), "hostForGifting");
    expectRefused(await post(url, SESSION, { id: sessionId }), "liveSessionForGifting");
    // A user's valid token is not a service credential.
    expectRefused(await post(url, HOST, { id: "sa-host" }, { token: await viewerToken(stack, "sa-nosy") }), "hostForGifting with a user token");
  });

  it("refuses the catalog's sending read giftsForSending", async () => {
    expectRefused(await post(stack.subgraphs.catalog.url, SENDING, { ids: [giftId] }), "giftsForSending");
  });

  it("refuses _entities: a GiftEvent's sender and coins by id", async () => {
    expectRefused(await post(stack.subgraphs.wallet.url, GIFT_EVENT, { r: [{ __typename: "GiftEvent", id: giftEventId }] }), "_entities GiftEvent");
  });

  it("refuses _service { sdl } on every subgraph, and public fields too", async () => {
    for (const sg of ["wallet", "catalog", "earnings"] as const) expectRefused(await post(stack.subgraphs[sg].url, SDL), `${sg} _service`);
    expectRefused(await post(stack.subgraphs.catalog.url, `{ gifts { id name } }`), "catalog gifts");
  });

  it("refuses a forged, expired, over-long, wrong-audience, wrong-issuer or user-typed credential alike", async () => {
    const url = stack.subgraphs.earnings.url;
    const bad: [string, string][] = [
      ["signed with another secret", await credential({ secret: "an-attacker-secret-that-is-long-enough-0123456789" })],
      ["expired", await credential({ iatOffset: -120 })],
      ["valid for an hour", await credential({ lifetimeSeconds: 3600 })],
      ["for the catalog", await credential({ audience: audienceOf("catalog") })],
      ["from another issuer", await credential({ issuer: "gift-economy-idp" })],
      ["typed as a user JWT", await credential({ typ: "JWT" })],
      ["garbage", "Bearer not.a.jwt"],
      ["not a bearer value", "Basic Z2F0ZXdheTo="],
    ];
    for (const [label, value] of bad) expectRefused(await post(url, HOST, { id: "sa-host" }, { headers: { [SERVICE_HEADER]: value } }), label);
    // The same request, properly signed, answers: the refusals above are about the credential.
    const ok = await post(url, HOST, { id: "sa-host" }, { headers: { [SERVICE_HEADER]: await credential() } });
    expect(ok.errors).toBeUndefined();
    expect(ok.data.hostForGifting).toEqual({ id: "sa-host", canReceive: true });
  });

  it("answers a signed caller: _service, _entities and the owner reads", async () => {
    const sdl = await post(stack.subgraphs.earnings.url, SDL, {}, { service: "earnings" });
    expect(sdl.data._service.sdl).toContain("hostForGifting");
    const entity = await post(stack.subgraphs.wallet.url, GIFT_EVENT, { r: [{ __typename: "GiftEvent", id: giftEventId }] }, { service: "wallet", token: await viewerToken(stack, "sa-fan") });
    expect(entity.data._entities[0]).toMatchObject({ id: giftEventId, sender: { id: "sa-fan" }, coins: 1 });
    const sending = await post(stack.subgraphs.catalog.url, SENDING, { ids: [giftId] }, { headers: await serviceHeaders("catalog", "wallet") });
    expect(sending.data.giftsForSending[0]).toMatchObject({ id: giftId, sendable: true });
  });

  it("refuses a graphql-ws stream straight to earnings without the credential (4401), even with a valid user token", async () => {
    const token = await stack.token({ sub: "sa-host", roles: ["viewer", "host"] });
    const wsUrl = stack.subgraphs.earnings.url.replace(/^http/, "ws");
    const attempt = (params: Record<string, unknown>) => {
      const closed: { code?: number; reason?: string } = {};
      let data = false;
      const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: params, retryAttempts: 0, lazy: false, onNonLazyError: () => undefined });
      client.on("closed", (e) => Object.assign(closed, { code: (e as { code: number }).code, reason: String((e as { reason: string }).reason) }));
      client.subscribe({ query: `subscription { giftReceived(hostId: "sa-host") { id } }` }, { next: () => (data = true), error: () => undefined, complete: () => undefined });
      return { closed, data: () => data, dispose: () => client.dispose() };
    };
    for (const params of [{ authorization: `Bearer ${token}` }, { authorization: `Bearer ${token}`, [SERVICE_PARAM]: await credential({ audience: audienceOf("wallet") }) }]) {
      const a = attempt(params);
      await until(() => a.closed.code !== undefined, "the socket to close");
      expect(a.closed.code).toBe(4401);
      expect(a.closed.reason).toMatch(/service credential|signed callers/);
      expect(a.data()).toBe(false);
      await a.dispose();
    }
    // Signed, with the viewer's token alongside, the stream opens (the gateway's way).
    const before = stack.subgraphs.earnings.services.stream.stats.opened;
    const signed = attempt(await new ServiceSigner(loadConfig(), "gateway").connectionParams("earnings", { authorization: `Bearer ${token}` }));
    await until(() => stack.subgraphs.earnings.services.stream.stats.opened > before, "the signed subscription to reach earnings");
    expect(signed.closed.code).toBeUndefined();
    await signed.dispose();
  });
});

describe("through the gateway, with the service credential", () => {
  it("still sends gifts (the wallet's owner reads to catalog and earnings are signed) and resolves entities across subgraphs", async () => {
    const fan = await viewerToken(stack, "sa-fan");
    const sent = await sendGift(stack, fan, { giftId, hostId: "sa-host", liveSessionId: sessionId, expectedUnitCost: 1, idempotencyKey: key("sa2") });
    expect(sent.res.errors).toBeUndefined();
    expect(sent.payload?.userErrors).toEqual([]);
    expect(sent.payload?.giftEvent).toMatchObject({ gift: { id: giftId, name: "Rose" }, host: { id: "sa-host" }, sender: { id: "sa-fan" }, coins: 1 });
    const read = await stack.gql(`{ creator(id: "sa-host") { id currentLiveSession { id } } gifts { id } }`);
    expect(read.errors).toBeUndefined();
    expect(read.data.creator.currentLiveSession.id).toBe(sessionId);
  });
});
