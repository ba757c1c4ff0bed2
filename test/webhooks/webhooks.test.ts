import "reflect-metadata";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DataSource } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningGateway } from "../../gateway/index.js";
import { PartnerKeyStore } from "../../gateway/partner/keys.js";
import { verifySignature } from "../../platform/signature.js";
import { loadWebhookConfig, type WebhookConfig } from "../../subgraphs/earnings/config.js";
import { checkDestinationUrl, isInternalAddress } from "../../subgraphs/earnings/domain/webhooks/destination.js";
import { WebhookDispatcher } from "../../subgraphs/earnings/domain/webhooks/dispatcher.js";
import { postJson } from "../../subgraphs/earnings/domain/webhooks/post.js";
import { WebhookService } from "../../subgraphs/earnings/domain/webhooks/service.js";
import { post } from "../support/http.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, until } from "../stream/helpers.js";
import { gift as giftSent, produce } from "../earnings/support.js";

/**
 * Partner webhooks end to end: a real HTTP receiver, the partner endpoint (API key), the
 * earnings outbox triggers and dispatchers on real PostgreSQL.
 */
const config: WebhookConfig = {
  ...loadWebhookConfig({}),
  dispatch: false,
  timeoutMs: 1_000,
  backoffBaseMs: 50,
  backoffMaxMs: 300,
  pollMs: 100,
  maxSubscriptionsPerPartner: 5,
};
const LEASE_MS = 1_500;

let stack: Stack;
let gateway: RunningGateway;
let store: PartnerKeyStore;
let partnerUrl: string;
let gifts: { id: string; name: string }[];
/** The dispatcher most tests rely on (the stack's own is stopped so each test controls who delivers). */
let dispatcher: WebhookDispatcher;

interface Received {
  headers: IncomingMessage["headers"];
  raw: string;
  body: any;
  at: number;
}

interface Receiver {
  url: string;
  requests: Received[];
  /** Answers each request; the default echoes a verification challenge and says 200 to events. */
  answer: (r: Received, res: ServerResponse) => void;
  events(): Received[];
  close(): Promise<void>;
}

function echoOr200(r: Received, res: ServerResponse): void {
  if (r.body?.type === "webhook_callback_verification") {
    res.writeHead(200, { "content-type": "text/plain" }).end(r.body.challenge);
    return;
  }
  res.writeHead(200).end("ok");
}

async function receiver(): Promise<Receiver> {
  const requests: Received[] = [];
  const rcv: Receiver = {
    url: "",
    requests,
    answer: echoOr200,
    events: () => requests.filter((r) => r.body?.type !== "webhook_callback_verification"),
    close: async () => undefined,
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const r: Received = { headers: req.headers, raw, body: JSON.parse(raw), at: Date.now() };
      requests.push(r);
      rcv.answer(r, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  rcv.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
  rcv.close = () => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return rcv;
}

async function partnerKey(partner: string): Promise<string> {
  return (await store.create({ partner, ratePerMinute: 6000, burst: 1000 })).key;
}

const gqlPartner = (key: string, query: string, variables: Record<string, unknown> = {}) => post(partnerUrl, query, variables, { headers: { "x-api-key": key } });

const CREATE = `mutation($input: CreateWebhookSubscriptionInput!) {
  createWebhookSubscription(input: $input) { subscription { id status secret cursor topics } userErrors { code message field } }
}`;

async function subscribeWebhook(key: string, input: Record<string, unknown>): Promise<{ id: string; secret: string; cursor: string }> {
  const r = await gqlPartner(key, CREATE, { input });
  const p = r.data?.createWebhookSubscription;
  if (!p?.subscription) throw new Error(`create failed: ${JSON.stringify(r.errors ?? p?.userErrors)}`);
  return p.subscription;
}

async function statusOf(key: string, id: string): Promise<{ status: string; statusReason: string | null; cursor: string }> {
  const r = await gqlPartner(key, `{ webhookSubscriptions { id status statusReason cursor } }`);
  return r.data.webhookSubscriptions.find((s: { id: string }) => s.id === id);
}

async function liveSession(hostId: string): Promise<string> {
  await makeHost(stack, hostId);
  const s = await stack.subgraphs.earnings.services.sessions.start({ id: hostId, name: hostId.toUpperCase(), roles: ["host"], region: "US", adult: true, exp: undefined }, "Webhook show");
  return s.id;
}

function signatureOk(r: Received, secret: string): boolean {
  return verifySignature(secret, String(r.headers["webhook-signature"]), Buffer.from(r.raw)).ok;
}

beforeAll(async () => {
  process.env.WEBHOOK_MAX_SUBSCRIPTIONS_PER_PARTNER = String(config.maxSubscriptionsPerPartner);
  stack = await startStack("webhooks");
  await stack.subgraphs.earnings.services.webhookDispatcher?.stop();
  gateway = await stack.startGateway({ databaseUrl: stack.databaseUrl });
  partnerUrl = gateway.url.replace(/\/graphql$/, "/partner/graphql");
  store = await PartnerKeyStore.open(stack.databaseUrl, { migrate: false, poolSize: 2 });
  gifts = await catalogGifts(stack);
  dispatcher = new WebhookDispatcher(stack.subgraphs.earnings.dataSource, { databaseUrl: stack.databaseUrl, config, leaseMs: LEASE_MS });
  await dispatcher.start();
});
afterAll(async () => {
  await dispatcher?.stop();
  await store?.close();
  await gateway?.stop();
  await stack?.stop();
});

describe("partner webhooks: subscriptions on the partner endpoint", () => {
  it("creates a subscription with its secret shown once, lists it without the secret, and deletes it", async () => {
    const key = await partnerKey("hooks-crud");
    const rcv = await receiver();
    const created = await subscribeWebhook(key, { topics: ["LIVE_GIFT"], url: rcv.url });
    expect(created.secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    const listed = await gqlPartner(key, `{ webhookSubscriptions { id secret topics url } }`);
    expect(listed.data.webhookSubscriptions).toEqual([{ id: created.id, secret: null, topics: ["LIVE_GIFT"], url: rcv.url }]);
    const other = await partnerKey("hooks-other");
    const foreign = await gqlPartner(other, `mutation($id: ID!) { deleteWebhookSubscription(id: $id) { deletedId userErrors { code } } }`, { id: created.id });
    expect(foreign.data.deleteWebhookSubscription).toEqual({ deletedId: null, userErrors: [{ code: "NOT_FOUND" }] });
    const deleted = await gqlPartner(key, `mutation($id: ID!) { deleteWebhookSubscription(id: $id) { deletedId userErrors { code } } }`, { id: created.id });
    expect(deleted.data.deleteWebhookSubscription).toEqual({ deletedId: created.id, userErrors: [] });
    expect((await gqlPartner(key, `{ webhookSubscriptions { id } }`)).data.webhookSubscriptions).toEqual([]);
    await rcv.close();
  });

  it("refuses a bad url, no topics and more subscriptions than the partner's limit, each with a typed code", async () => {
    const key = await partnerKey("hooks-limits");
    const bad = await gqlPartner(key, CREATE, { input: { topics: ["LIVE_GIFT"], url: "ftp://example.com/x" } });
    expect(bad.data.createWebhookSubscription.userErrors).toEqual([{ code: "INVALID_INPUT", message: "url must use http or https", field: ["input", "url"] }]);
    const none = await gqlPartner(key, CREATE, { input: { topics: [], url: "http://127.0.0.1:9/x" } });
    expect(none.data.createWebhookSubscription.userErrors[0]).toMatchObject({ code: "INVALID_INPUT", field: ["input", "topics"] });
    const made = await Promise.all(Array.from({ length: 8 }, () => gqlPartner(key, CREATE, { input: { topics: ["LIVE_STARTED"], url: "http://127.0.0.1:9/x" } })));
    const codes = made.map((r) => r.data.createWebhookSubscription.userErrors[0]?.code ?? "OK").sort();
    // Concurrent creations cannot race past the cap of 5.
    expect(codes).toEqual(["LIMIT_EXCEEDED", "LIMIT_EXCEEDED", "LIMIT_EXCEEDED", "OK", "OK", "OK", "OK", "OK"]);
  });

  it("is not for users: a user's token on the main gateway is FORBIDDEN", async () => {
    const token = await stack.token({ sub: "hooks-user", roles: ["viewer", "host"] });
    const r = await stack.gql(`{ webhookSubscriptions { id } }`, {}, token);
    expect(r.errors?.[0]?.extensions?.code).toBe("FORBIDDEN");
  });
});

describe("partner webhooks: delivery", () => {
  it("verifies the endpoint with a signed challenge before any event, and never sends events to one that fails it", async () => {
    const key = await partnerKey("hooks-verify");
    const good = await receiver();
    const sub = await subscribeWebhook(key, { topics: ["LIVE_STARTED"], url: good.url });
    await until(async () => (await statusOf(key, sub.id)).status === "ENABLED", "verification");
    const challenge = good.requests[0];
    expect(challenge.body).toMatchObject({ type: "webhook_callback_verification", subscriptionId: sub.id, topics: ["LIVE_STARTED"] });
    expect(signatureOk(challenge, sub.secret)).toBe(true);

    const wrong = await receiver();
    wrong.answer = (_r, res) => res.writeHead(200).end("not the challenge");
    const failed = await subscribeWebhook(key, { topics: ["LIVE_STARTED"], url: wrong.url });
    await until(async () => (await statusOf(key, failed.id)).status === "VERIFICATION_FAILED", "the failed verification");
    await liveSession("host-verify");
    await until(() => good.events().length === 1, "the LIVE_STARTED event");
    expect(wrong.events()).toEqual([]);
    await Promise.all([good.close(), wrong.close()]);
  });

  it("delivers 200 room gifts in order through a receiver that answers 500 at first, each signed, retries keeping their Webhook-Id", async () => {
    const key = await partnerKey("hooks-storm");
    const rcv = await receiver();
    const session = await liveSession("host-storm");
    const sub = await subscribeWebhook(key, { topics: ["LIVE_GIFT"], url: rcv.url, liveSessionId: session });
    await until(async () => (await statusOf(key, sub.id)).status === "ENABLED", "verification");
    // The receiver is down at first: its first 40 event requests answer 500 (a count, not a clock, so a slow machine still sees both phases).
    let refused = 0;
    const accepted: Received[] = [];
    rcv.answer = (r, res) => {
      if (r.body?.type === "webhook_callback_verification") return echoOr200(r, res);
      if (refused < 40) {
        refused++;
        res.writeHead(500).end("down");
        return;
      }
      accepted.push(r);
      res.writeHead(200).end("ok");
    };
    const ids: string[] = [];
    for (let batch = 0; batch < 10; batch++) {
      const items = Array.from({ length: 20 }, () => item({ hostId: "host-storm", giftId: gifts[0].id, liveSessionId: session }));
      ids.push(...items.map((i) => i.giftEventId));
      await credit(stack, items);
    }
    // Another room's gift must not reach this subscription.
    await credit(stack, [item({ hostId: "host-elsewhere", giftId: gifts[0].id, liveSessionId: await liveSession("host-elsewhere") })]);
    await until(() => new Set(accepted.map((r) => r.headers["webhook-id"])).size >= 200, "200 deliveries", 60_000);

    const byId = new Map<string, Received[]>();
    for (const r of rcv.events()) byId.set(String(r.headers["webhook-id"]), [...(byId.get(String(r.headers["webhook-id"])) ?? []), r]);
    expect(byId.size).toBe(200);
    // A retried event is the same event: same id, same body.
    for (const copies of byId.values()) expect(new Set(copies.map((c) => JSON.stringify(c.body))).size).toBe(1);
    const firstAccepted: string[] = [];
    for (const r of accepted) if (!firstAccepted.includes(r.body.event.id)) firstAccepted.push(r.body.event.id);
    expect(firstAccepted).toEqual(ids);
    expect(rcv.events().every((r) => signatureOk(r, sub.secret))).toBe(true);
    expect(refused).toBe(40);
    // Public contract data only.
    expect(Object.keys(accepted[0].body.event).sort()).toEqual([
      "anonymous", "coins", "comboCount", "comboEnded", "comboId", "giftId", "goalProgress", "hostId", "id", "liveSessionId", "message", "quantity", "senderId", "senderLevel", "senderName", "sentAt", "videoId",
    ]);

    const log = await gqlPartner(key, `query($id: ID!) { webhookDeliveries(subscriptionId: $id, first: 100) { webhookId statusCode delivered attempt latencyMs } }`, { id: sub.id });
    expect(log.errors).toBeUndefined();
    const oldestFirst = [...log.data.webhookDeliveries].reverse();
    expect(oldestFirst.length).toBe(100);
    expect(log.data.webhookDeliveries[0]).toMatchObject({ statusCode: 200, delivered: true });
    await rcv.close();
  });

  it("loses nothing when a dispatcher dies mid-delivery: another takes over and resends that event with the same Webhook-Id", async () => {
    const key = await partnerKey("hooks-crash");
    const rcv = await receiver();
    const session = await liveSession("host-crash");
    const sub = await subscribeWebhook(key, { topics: ["LIVE_GIFT"], url: rcv.url, liveSessionId: session });
    await until(async () => (await statusOf(key, sub.id)).status === "ENABLED", "verification");
    await dispatcher.stop();

    // A second dispatcher with its own connection pool: "killing" it = it stops and its database connections are gone.
    const doomedDs = new DataSource({ type: "postgres", url: stack.databaseUrl, poolSize: 2 });
    await doomedDs.initialize();
    const doomed = new WebhookDispatcher(doomedDs, { databaseUrl: stack.databaseUrl, config, leaseMs: LEASE_MS });
    let hold: ServerResponse | null = null;
    rcv.answer = (r, res) => {
      if (r.body?.event?.id === "crash-3" && !hold) {
        hold = res; // the receiver is slow on this one, and the dispatcher dies meanwhile
        return;
      }
      echoOr200(r, res);
    };
    await credit(stack, ["crash-1", "crash-2", "crash-3", "crash-4", "crash-5"].map((giftEventId) => item({ giftEventId, hostId: "host-crash", giftId: gifts[0].id, liveSessionId: session })));
    await doomed.start();
    await until(() => hold !== null, "the delivery in flight");
    void doomed.stop();
    await doomedDs.destroy();
    (hold as ServerResponse | null)?.writeHead(200).end("ok"); // answered, but nobody is left to record it

    dispatcher = new WebhookDispatcher(stack.subgraphs.earnings.dataSource, { databaseUrl: stack.databaseUrl, config, leaseMs: LEASE_MS });
    await dispatcher.start();
    await until(() => rcv.events().filter((r) => r.body.event.id === "crash-5").length === 1, "the rest after the takeover", 20_000);
    const seen = rcv.events().map((r) => r.body.event.id);
    expect(seen).toEqual(["crash-1", "crash-2", "crash-3", "crash-3", "crash-4", "crash-5"]);
    const copies = rcv.events().filter((r) => r.body.event.id === "crash-3");
    expect(copies[0].headers["webhook-id"]).toBe(copies[1].headers["webhook-id"]);
    await rcv.close();
  });

  it("replays exactly the events after a cursor, in order, with new Webhook-Ids", async () => {
    const key = await partnerKey("hooks-replay");
    const rcv = await receiver();
    const session = await liveSession("host-replay");
    const sub = await subscribeWebhook(key, { topics: ["LIVE_GIFT", "LIVE_ENDED"], url: rcv.url, hostId: "host-replay" });
    await until(async () => (await statusOf(key, sub.id)).status === "ENABLED", "verification");
    const names = ["r1", "r2", "r3", "r4"];
    await credit(stack, names.map((giftEventId) => item({ giftEventId, hostId: "host-replay", giftId: gifts[0].id, liveSessionId: session })));
    await stack.subgraphs.earnings.services.sessions.end({ id: "host-replay", name: "H", roles: ["host"], region: "US", adult: true, exp: undefined }, session);
    await until(() => rcv.events().length === 5, "the first delivery");
    expect(rcv.events().map((r) => r.body.topic)).toEqual(["LIVE_GIFT", "LIVE_GIFT", "LIVE_GIFT", "LIVE_GIFT", "LIVE_ENDED"]);
    expect(rcv.events()[4].body.event).toMatchObject({ liveSessionId: session, hostId: "host-replay", status: "ENDED" });
    const afterSecond = rcv.events()[1].body.cursor;
    const firstIds = rcv.events().map((r) => r.headers["webhook-id"]);

    const replay = await gqlPartner(key, `mutation($id: ID!, $after: String!) { replayWebhookEvents(subscriptionId: $id, after: $after) { subscription { status } userErrors { code } } }`, { id: sub.id, after: afterSecond });
    expect(replay.data.replayWebhookEvents).toEqual({ subscription: { status: "ENABLED" }, userErrors: [] });
    await until(() => rcv.events().length === 8, "the replay");
    const replayed = rcv.events().slice(5);
    expect(replayed.map((r) => r.body.event.id ?? r.body.topic)).toEqual(["r3", "r4", "LIVE_ENDED"]);
    for (const r of replayed) expect(firstIds).not.toContain(r.headers["webhook-id"]);

    const bad = await gqlPartner(key, `mutation($id: ID!) { replayWebhookEvents(subscriptionId: $id, after: "nope") { userErrors { code field } } }`, { id: sub.id });
    expect(bad.data.replayWebhookEvents.userErrors).toEqual([{ code: "INVALID_INPUT", field: ["after"] }]);
    await rcv.close();
  });

  it("disables a receiver that never answers once the retry window has passed, with the reason", async () => {
    const key = await partnerKey("hooks-dead");
    const rcv = await receiver();
    const sub = await subscribeWebhook(key, { topics: ["LIVE_STARTED"], url: rcv.url, hostId: "host-dead" });
    await until(async () => (await statusOf(key, sub.id)).status === "ENABLED", "verification");
    rcv.answer = () => undefined; // never answers: every attempt times out
    await dispatcher.stop();
    const shortWindow = new WebhookDispatcher(stack.subgraphs.earnings.dataSource, {
      databaseUrl: stack.databaseUrl,
      config: { ...config, timeoutMs: 200, retryWindowMs: 1_500 },
      leaseMs: 1_000,
    });
    await shortWindow.start();
    try {
      await liveSession("host-dead");
      await until(async () => (await statusOf(key, sub.id)).status === "DISABLED", "the subscription to be disabled", 20_000);
      expect((await statusOf(key, sub.id)).statusReason).toMatch(/failed attempts since .*\(retry window 2 s\)/);
      const log = await gqlPartner(key, `query($id: ID!) { webhookDeliveries(subscriptionId: $id) { error delivered } }`, { id: sub.id });
      expect(log.data.webhookDeliveries[0]).toEqual({ error: "no answer within 200 ms", delivered: false });
    } finally {
      await shortWindow.stop();
      dispatcher = new WebhookDispatcher(stack.subgraphs.earnings.dataSource, { databaseUrl: stack.databaseUrl, config, leaseMs: LEASE_MS });
      await dispatcher.start();
      await rcv.close();
    }
  });
});

describe("partner webhooks: GOAL_REACHED", () => {
  it("delivers one GOAL_REACHED when concurrent gifts carry a host's goal past its target", async () => {
    const key = await partnerKey("hooks-goals");
    const rcv = await receiver();
    const session = await liveSession("host-goal");
    const sub = await subscribeWebhook(key, { topics: ["GOAL_REACHED"], url: rcv.url, hostId: "host-goal" });
    await until(async () => (await statusOf(key, sub.id)).status === "ENABLED", "verification");
    const hostToken = await stack.token({ sub: "host-goal", roles: ["viewer", "host"] });
    const created = await stack.gql(
      `mutation($input: CreateLiveGoalInput!) { createLiveGoal(input: $input) { goal { id } userErrors { code } } }`,
      { input: { liveSessionId: session, title: "A song", targetCoins: 100 } },
      hostToken,
    );
    const goalId = created.data.createLiveGoal.goal.id;
    // 30 gifts of 10 coins in three concurrent producers: the goal crosses 100 once, whichever batch carries it.
    await Promise.all([0, 1, 2].map((p) => produce(stack.subgraphs.earnings.dataSource, Array.from({ length: 10 }, (_, i) => giftSent({ hostId: "host-goal", liveSessionId: session, senderId: `gv-${p}-${i}`, unitCost: 10 })))));
    await until(() => rcv.events().length >= 1, "the GOAL_REACHED delivery", 30_000);
    await stack.subgraphs.earnings.services.credits.drain();
    const [{ n }] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n FROM earnings.webhook_events WHERE topic = 'GOAL_REACHED'`);
    expect(n).toBe(1);
    expect(rcv.events()).toHaveLength(1);
    expect(rcv.events()[0].body).toMatchObject({ topic: "GOAL_REACHED", event: { goalId, liveSessionId: session, hostId: "host-goal", title: "A song", targetCoins: 100 } });
    expect(rcv.events()[0].body.event.progressCoins).toBeGreaterThanOrEqual(100);
    expect(signatureOk(rcv.events()[0], sub.secret)).toBe(true);
    await rcv.close();
  });
});

describe("partner webhooks: destinations in production (SSRF)", () => {
  it("refuses http, loopback, private and link-local destinations at creation", async () => {
    const service = new WebhookService(stack.subgraphs.earnings.dataSource, { ...config, production: true });
    for (const url of ["http://partner.example.com/hook", "https://127.0.0.1/hook", "https://10.1.2.3/hook", "https://169.254.169.254/latest", "https://[::1]/hook", "https://localhost/hook", "https://192.168.0.10/x"]) {
      await expect(service.create("ssrf-co", { topics: ["LIVE_GIFT"], url })).rejects.toMatchObject({ code: "INVALID_INPUT", extra: { field: ["input", "url"] } });
    }
    expect(checkDestinationUrl("http://127.0.0.1:4000/x", false).ok).toBe(true);
    expect(isInternalAddress("::ffff:10.0.0.1")).toBe(true);
    expect(isInternalAddress("93.184.216.34")).toBe(false);
  });

  it("refuses, at connection time, a name that resolves to an internal address (DNS rebinding)", async () => {
    const r = await postJson(new URL("https://localhost:9/hook"), "{}", {}, { timeoutMs: 1_000, production: true });
    expect(r.statusCode).toBeNull();
    expect(r.error).toMatch(/EDESTINATION: localhost resolves only to internal addresses/);
  });
});
