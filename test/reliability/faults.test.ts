import { randomUUID } from "node:crypto";
import { createClient, type Client } from "graphql-ws";
import pg from "pg";
import WebSocket from "ws";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { Supervisor, type ServiceName } from "../../scripts/supervisor.js";
import { freePort } from "../../scripts/embedded-pg.js";
import { createTestDatabase } from "../support/db.js";
import { ensureBuilt } from "../support/dist.js";
import { eventually, pollUntil } from "../support/eventually.js";
import { checkMoneyInvariants, pool, prng, recordFigures } from "./support.js";

/**
 * Faults with real processes (scripts/supervisor.ts runs each service from dist/ as its own
 * process): SIGKILL the earnings subgraph mid-stream, SIGKILL the gateway while hosts are
 * subscribed, and terminate the services' PostgreSQL backends mid-transaction. Clients keep
 * going the way a real app does — retry a failed send with the same idempotency key, resume
 * a dropped stream from its last cursor — and afterwards nothing is lost, nothing is doubled,
 * every resumed subscriber has every gift exactly once, and while a part was down every
 * client got a typed answer (an error code or a refused connection), never a hang.
 */

const SEED = process.env.RELIABILITY_SEED ? Number(process.env.RELIABILITY_SEED) : Date.now() % 2 ** 31;
const SOAK = process.env.SOAK === "1";
const SENDS_PER_SENDER = SOAK ? 120 : 15;
const SENDERS = 6;
const HOSTS = 3;
/** A request taking longer than this is a hang (the gateway's subgraph timeout is 10 s). */
const HANG_MS = 20_000;

const GIFT_STREAM = `subscription($h: ID!, $after: String) { giftReceived(hostId: $h, after: $after) { id cursor coins diamonds gift { name } } }`;
const SEND = `mutation($input: SendGiftInput!) { sendGift(input: $input) { giftEvent { id coins } userErrors { code message } } }`;

let sup: Supervisor;
let db: { url: string; drop(): Promise<void> };
let dbName: string;
let admin: pg.Client;
let gatewayUrl: string;
const hosts = Array.from({ length: HOSTS }, (_, i) => `fault-host-${i}`);
const senders = Array.from({ length: SENDERS }, (_, i) => `fault-viewer-${i}`);
const tokens = new Map<string, string>();
let gift: { id: string; cost: number };
/** Every send any client was told succeeded, across the scenarios: idempotency key → gift event id. */
const allSent = new Map<string, string>();
const figures = { slowestDecisionMs: {} as Record<string, number>, errorCodesByOperation: {} as Record<string, number>, terminatedByApplication: {} as Record<string, number>, streamEnds: {} as Record<string, number>, eventErrorsRecovered: 0, faultsInjected: 0, processesKilled: 0, backendsTerminated: 0, sends: 0, attempts: 0, resubscribes: 0, eventsDelivered: 0, lost: 0, doubled: 0, errorCodes: {} as Record<string, number> };

// ------------------------------------------------------------------ helpers

/** How a real client paces itself (retry backoff, reconnect delay, a fault's duration): never a wait for an effect (those are eventually()). */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const count = (code: string) => (figures.errorCodes[code] = (figures.errorCodes[code] ?? 0) + 1);

/** One HTTP GraphQL call as a client sees it: data, a typed error code, a refused connection, or a hang. */
async function call(query: string, variables: Record<string, unknown>, token: string): Promise<{ data?: any; code?: string; retryAfter?: number }> {
  try {
    const res = await fetch(gatewayUrl, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: JSON.stringify({ query, variables }),
      signal: AbortSignal.timeout(HANG_MS),
    });
    const text = await res.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      return { code: `UNTYPED_HTTP_${res.status}` };
    }
    if (body.errors?.length) return { code: String(body.errors[0].extensions?.code ?? "UNTYPED_ERROR"), data: body.data, retryAfter: body.errors[0].extensions?.retryAfterSeconds };
    return { data: body.data };
  } catch (e) {
    const err = e as { name?: string; cause?: { code?: string } };
    if (err.name === "TimeoutError" || err.name === "AbortError") return { code: "HANG" };
    return { code: err.cause?.code ?? "NETWORK_ERROR" };
  }
}

/** Client codes that are a typed, immediate answer while a part is down. Anything else fails the test. */
const TYPED_WHILE_DOWN = new Set(["RATE_LIMITED", "SUBGRAPH_UNAVAILABLE", "SERVICE_UNAVAILABLE", "ECONNREFUSED", "ECONNRESET", "UND_ERR_SOCKET", "SUBGRAPH_TIMEOUT", "BAD_GATEWAY", "DOWNSTREAM_SERVICE_ERROR"]);

/**
 * Sends one gift the way a well-behaved app does: on a failure it retries with the same
 * idempotency key until the wallet decides. Returns the gift event id.
 */
async function sendOnce(sender: string, host: string, key: string): Promise<string> {
  const deadline = Date.now() + 90_000;
  for (;;) {
    figures.attempts++;
    const r = await call(SEND, { input: { giftId: gift.id, hostId: host, quantity: 1, expectedUnitCost: gift.cost, idempotencyKey: key } }, tokens.get(sender)!);
    if (r.code) {
      count(r.code);
      if (!TYPED_WHILE_DOWN.has(r.code)) throw new Error(`send ${key}: untyped or unexpected answer ${r.code}`);
    } else {
      const p = r.data.sendGift;
      if (p.userErrors.length) throw new Error(`send ${key}: business failure ${JSON.stringify(p.userErrors)}`);
      return p.giftEvent.id;
    }
    if (Date.now() > deadline) throw new Error(`send ${key}: still failing after 90 s (${r.code})`);
    // Retries hammer the per-user money buckets: a good client waits as long as RATE_LIMITED says.
    await sleep(r.retryAfter ? r.retryAfter * 1000 : 150);
  }
}

/** Calls until the service answers without a GraphQL error (a client retrying with the same key); every failure must be typed. */
async function decided(what: string, query: string, variables: Record<string, unknown>, token: string): Promise<any> {
  const started = Date.now();
  const deadline = started + 150_000;
  for (;;) {
    figures.attempts++;
    const r = await call(query, variables, token);
    if (!r.code) {
      const kind = what.split(" ")[0];
      figures.slowestDecisionMs[kind] = Math.max(figures.slowestDecisionMs[kind] ?? 0, Date.now() - started);
      return r.data;
    }
    count(r.code);
    figures.errorCodesByOperation[`${what.split(" ")[0]}:${r.code}`] = (figures.errorCodesByOperation[`${what.split(" ")[0]}:${r.code}`] ?? 0) + 1;
    if (!TYPED_WHILE_DOWN.has(r.code)) throw new Error(`${what}: untyped or unexpected answer ${r.code}`);
    if (Date.now() > deadline) throw new Error(`${what}: still failing after 150 s (${r.code})`);
    await sleep(r.retryAfter ? r.retryAfter * 1000 : 150);
  }
}

/**
 * A host's app: subscribes through the gateway, and when the stream ends for any reason
 * resubscribes with the last cursor it saw. Records every delivery, so duplicates show.
 */
class ResumingSubscriber {
  readonly seen = new Map<string, number>();
  /** The first gift this app ever received: everything from there on must arrive, once. */
  first: string | null = null;
  readonly closes: string[] = [];
  cursor: string | null = null;
  resubscribes = 0;
  /** Events delivered as errors (data null) and recovered by resuming from the last good cursor. */
  eventErrors = 0;
  private client: Client | null = null;
  private stopped = false;
  private loop: Promise<void> | null = null;

  constructor(readonly host: string) {}

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        let finished = false;
        // The first reason this connection ended is the one that counts (disposing it adds a close 1000 / complete).
        const done = (reason: string) => {
          if (finished) return;
          finished = true;
          if (!this.stopped) this.closes.push(reason);
          resolve();
        };
        const client = createClient({
          url: gatewayUrl.replace(/^http/, "ws"),
          webSocketImpl: WebSocket,
          connectionParams: { authorization: `Bearer ${tokens.get(this.host)}` },
          retryAttempts: 0,
          lazy: false,
          onNonLazyError: () => undefined,
        });
        this.client = client;
        client.on("closed", (ev) => done(`close:${(ev as { code?: number }).code}`));
        client.subscribe(
          { query: GIFT_STREAM, variables: { h: this.host, after: this.cursor } },
          {
            next: (v) => {
              if (finished) return; // resubscribing from this.cursor: later events come again in the replay
              if (v.errors?.length && !(v.data as any)?.giftReceived) {
                // The gateway could not resolve this event (a subgraph it needed failed): it arrives as an
                // error with the event's cursor in extensions and the stream stays open. The gift is not
                // in hand, so resume from the last gift we did process: the replay brings it again.
                this.eventErrors++;
                done(`event:${String(v.errors[0].extensions?.code ?? `UNTYPED ${v.errors[0].message}`)}`);
                return;
              }
              const e = (v.data as any).giftReceived;
              this.first ??= e.id;
              this.seen.set(e.id, (this.seen.get(e.id) ?? 0) + 1);
              this.cursor = e.cursor;
            },
            error: (err) => done(Array.isArray(err) ? String(err[0]?.extensions?.code ?? `UNTYPED ${err[0]?.message}`) : `error:${(err as { code?: number }).code ?? `UNTYPED ${String(err)}`}`),
            // A stream the server completes while the host is still live is a silent end: counted, and resumed like any other.
            complete: () => done("complete"),
          },
        );
      });
      await this.client?.dispose().catch(() => undefined);
      if (this.stopped) break;
      this.resubscribes++;
      figures.resubscribes++;
      await sleep(250);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.dispose().catch(() => undefined);
    await this.loop;
  }
}

async function q(sql: string, params: unknown[] = []): Promise<any[]> {
  return (await admin.query(sql, params)).rows;
}

/** Waits until the earnings consumer (in its own process) has credited every gift.sent event. */
async function waitCredited(): Promise<void> {
  await eventually(async () => {
    const [r] = await q(`SELECT (SELECT count(*) FROM eventlog.events WHERE type = 'gift.sent')::int AS e, (SELECT count(*) FROM earnings.gift_credits)::int AS c`);
    if (r.c < r.e) throw new Error(`earnings credited ${r.c} of ${r.e} gifts`);
  }, 60_000, 100);
}

/** The gifts a subscriber must have: its host's, from the first one it received on (feed order = commit order). */
async function expectedFor(s: ResumingSubscriber): Promise<string[]> {
  const rows = await q(
    `SELECT id FROM earnings.gift_feed WHERE host_id = $1 AND kind = 'gift' AND seq >= (SELECT seq FROM earnings.gift_feed WHERE id = $2) ORDER BY seq`,
    [s.host, s.first],
  );
  return rows.map((r) => r.id);
}

async function waitDelivered(subs: ResumingSubscriber[]): Promise<void> {
  await eventually(async () => {
    const want = new Map<string, number>();
    for (const s of subs) want.set(s.host, (await expectedFor(s)).length);
    if (!subs.every((s) => s.seen.size >= (want.get(s.host) ?? 0))) {
      throw new Error(`subscribers missing events: ${subs.map((s) => `${s.host} ${s.seen.size}/${want.get(s.host)} (resubscribed ${s.resubscribes}×, last ends: ${s.closes.slice(-4).join(" ")})`).join(", ")}`);
    }
  }, 60_000, 100);
}

/** Nothing lost, nothing doubled: each subscriber saw exactly its host's gifts, once each; the tables agree. */
async function expectExactlyOnce(subs: ResumingSubscriber[]): Promise<void> {
  const sent = allSent;
  await waitCredited();
  await waitDelivered(subs);
  // Every gift a sender was told about exists once, and no other gift exists.
  const rows = await q(`SELECT id::text, host_id FROM wallet.gift_events WHERE host_id LIKE 'fault-host-%'`);
  expect(rows.length, "gift events = gifts the senders were told about").toBe(sent.size);
  expect(new Set(rows.map((r) => r.id))).toEqual(new Set(sent.values()));
  for (const s of subs) {
    const want = (await expectedFor(s)).sort();
    // Everything sent to this host since the subscriber's first event is in the feed it was served from.
    expect(want.length, `${s.host}: gifts since its first event`).toBeGreaterThan(0);
    const dupes = [...s.seen].filter(([, n]) => n > 1);
    figures.doubled += dupes.length;
    figures.lost += want.filter((id) => !s.seen.has(id)).length;
    expect(dupes, `${s.host}: no gift delivered twice`).toEqual([]);
    expect([...s.seen.keys()].sort(), `${s.host}: every gift delivered`).toEqual(want);
  }
  // Every way a stream ended while something was down was typed: a close code or an error code.
  for (const s of subs) {
    for (const c of s.closes) figures.streamEnds[c.replace(/^close:|^error:/, "close ")] = (figures.streamEnds[c.replace(/^close:|^error:/, "close ")] ?? 0) + 1;
    expect(s.closes.filter((c) => c.includes("UNTYPED")), `${s.host}: stream ends are typed`).toEqual([]);
  }
  figures.eventsDelivered += subs.reduce((n, s) => n + s.seen.size, 0);
  figures.eventErrorsRecovered += subs.reduce((n, s) => n + s.eventErrors, 0);
  await checkMoneyInvariants(q);
}

/** Senders send SENDS_PER_SENDER gifts each to random hosts (seeded), retrying each key until decided. */
async function sendMany(label: string, onProgress: (done: number) => Promise<void> | void): Promise<Map<string, string>> {
  const rnd = prng(SEED + label.length);
  const sent = new Map<string, string>();
  const plan = senders.flatMap((s) => Array.from({ length: SENDS_PER_SENDER }, () => ({ s, h: hosts[Math.floor(rnd() * hosts.length)], key: `${label}-${randomUUID()}` })));
  let done = 0;
  // One sequential stream of sends per viewer (a user taps one at a time), all viewers at once.
  await pool(senders, SENDERS, async (s) => {
    for (const p of plan.filter((x) => x.s === s)) {
      const id = await sendOnce(p.s, p.h, p.key);
      sent.set(p.key, id);
      allSent.set(p.key, id);
      figures.sends++;
      await onProgress(++done);
    }
  });
  return sent;
}

/**
 * Hosts open their app: a fresh subscription (no cursor) is live from when the subgraph
 * registers it. A priming gift per host, repeated until it arrives, marks that moment; from
 * there on the subscriber must see every gift exactly once, whatever fails.
 */
async function startSubscribers(label: string): Promise<ResumingSubscriber[]> {
  const subs = hosts.map((h) => new ResumingSubscriber(h));
  for (const s of subs) s.start();
  for (const s of subs) {
    for (let i = 0; s.first === null; i++) {
      if (i > 20) throw new Error(`${s.host}: subscription never delivered a gift (${s.closes.join(" ")})`);
      const key = `${label}-prime-${randomUUID()}`;
      allSent.set(key, await sendOnce(senders[0], s.host, key));
      await pollUntil(() => s.first !== null, (arrived) => arrived, 2000, 20);
    }
  }
  return subs;
}

// ------------------------------------------------------------------ setup

beforeAll(async () => {
  ensureBuilt("reliability");
  db = await createTestDatabase("relfault");
  dbName = new URL(db.url).pathname.slice(1);
  admin = new pg.Client({ connectionString: db.url });
  await admin.connect();
  const ports = { gateway: await freePort(), wallet: await freePort(), catalog: await freePort(), earnings: await freePort() } as Record<ServiceName, number>;
  sup = new Supervisor({
    databaseUrl: db.url,
    ports,
    migrate: true,
    stdio: process.env.RELIABILITY_LOGS ? "inherit" : "ignore",
    env: { LOG_LEVEL: process.env.RELIABILITY_LOGS ? "info" : "silent", WALLET_MAX_ORDERS_PER_HOUR: "1000" },
  });
  // Migrations take an advisory lock per schema; start the subgraphs one by one the first time.
  for (const s of ["catalog", "earnings", "wallet"] as ServiceName[]) {
    sup.start(s);
    await sup.waitHealthy(s);
  }
  sup.start("gateway");
  await sup.waitHealthy("gateway");
  gatewayUrl = sup.url("gateway");
  for (const h of hosts) {
    tokens.set(h, await mintToken({ sub: h, name: h, roles: ["viewer", "host"], adult: true }));
    const r = await call(`mutation { startLiveSession(input: { title: "faults" }) { liveSession { id } userErrors { code } } }`, {}, tokens.get(h)!);
    expect(r.code).toBeUndefined();
  }
  for (const s of senders) {
    tokens.set(s, await mintToken({ sub: s, name: s, roles: ["viewer"], adult: true }));
    const r = await call(
      `mutation($i: RechargeInput!) { recharge(input: $i) { order { status } userErrors { code } } }`,
      { i: { customCoins: 1_000_000, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: `fund-${s}` } },
      tokens.get(s)!,
    );
    expect(r.data?.recharge?.order?.status, JSON.stringify(r)).toBe("SUCCEEDED");
  }
  for (const b of ["fault-buyer-0", "fault-buyer-1"]) tokens.set(b, await mintToken({ sub: b, name: b, roles: ["viewer"], adult: true }));
  const gifts = (await call(`{ gifts { id slug coinCost } }`, {}, tokens.get(senders[0])!)).data.gifts as { id: string; slug: string; coinCost: number }[];
  const g = gifts.find((x) => x.slug === "galaxy")!;
  gift = { id: g.id, cost: g.coinCost };
}, 240_000);

afterAll(async () => {
  await sup?.stopAll();
  await admin?.end().catch(() => undefined);
  await db?.drop();
  await recordFigures(SOAK ? "faults-soak" : "faults", { seed: SEED, sendsPerViewer: SENDS_PER_SENDER, ...figures });
});

// ------------------------------------------------------------------ the faults

describe("faults with real processes: nothing lost, nothing doubled, typed errors while down", () => {
  it("the earnings subgraph SIGKILLed mid-stream and restarted: every gift credited once, subscribers resume from their cursor with every gift once", async () => {
    const subs = await startSubscribers("earnings-kill");
    const total = SENDERS * SENDS_PER_SENDER;
    let killed = false;
    const sent = await sendMany("earnings-kill", async (done) => {
      if (!killed && done >= Math.floor(total / 3)) {
        killed = true;
        await sup.kill("earnings");
        figures.faultsInjected++;
        figures.processesKilled++;
        // Sends keep coming while it is down (they get SERVICE_UNAVAILABLE and retry); bring it back shortly.
        setTimeout(() => {
          sup.start("earnings");
        }, 1500);
      }
    });
    await sup.waitHealthy("earnings");
    expect(sent.size).toBe(total);
    await expectExactlyOnce(subs);
    // The outage was visible to the hosts' apps as a typed interruption, not a silent stall.
    expect(subs.some((s) => s.resubscribes > 0), "subscribers saw the stream interrupted").toBe(true);
    for (const s of subs) await s.stop();
    expect(figures.errorCodes.HANG ?? 0).toBe(0);
  }, SOAK ? 1_200_000 : 300_000);

  it("the gateway SIGKILLed while hosts are subscribed and restarted: resumed subscribers have every gift once, senders got refused connections, never a hang", async () => {
    const subs = await startSubscribers("gateway-kill");
    const total = SENDERS * SENDS_PER_SENDER;
    let killed = false;
    const before = { ...figures.errorCodes };
    const sent = await sendMany("gateway-kill", async (done) => {
      if (!killed && done >= Math.floor(total / 2)) {
        killed = true;
        await sup.kill("gateway");
        figures.faultsInjected++;
        figures.processesKilled++;
        setTimeout(() => {
          sup.start("gateway");
        }, 1500);
      }
    });
    await sup.waitHealthy("gateway");
    expect(sent.size).toBe(total);
    await expectExactlyOnce(subs);
    expect((figures.errorCodes.ECONNREFUSED ?? 0) + (figures.errorCodes.ECONNRESET ?? 0) + (figures.errorCodes.UND_ERR_SOCKET ?? 0)).toBeGreaterThan(
      (before.ECONNREFUSED ?? 0) + (before.ECONNRESET ?? 0) + (before.UND_ERR_SOCKET ?? 0),
    );
    expect(subs.every((s) => s.resubscribes > 0), "every subscriber lost its socket and resumed").toBe(true);
    for (const s of subs) await s.stop();
    expect(figures.errorCodes.HANG ?? 0).toBe(0);
  }, SOAK ? 1_200_000 : 300_000);

  it("the wallet SIGKILLed mid-send and the catalog SIGKILLed mid-stream, both restarted: retried sends apply once, events the gateway could not resolve are recovered from the cursor", async () => {
    const subs = await startSubscribers("wallet-catalog-kill");
    const total = SENDERS * SENDS_PER_SENDER;
    const killAt: [number, ServiceName][] = [
      [Math.floor(total / 4), "wallet"],
      [Math.floor(total / 2), "catalog"],
    ];
    const sent = await sendMany("wallet-catalog-kill", async (done) => {
      const next = killAt[0];
      if (next && done >= next[0]) {
        killAt.shift();
        // Killed while other sends are in flight: some die between the debit's commit and the answer.
        await sup.kill(next[1]);
        figures.faultsInjected++;
        figures.processesKilled++;
        setTimeout(() => {
          sup.start(next[1]);
        }, 1500);
      }
    });
    await Promise.all([sup.waitHealthy("wallet"), sup.waitHealthy("catalog")]);
    expect(sent.size).toBe(total);
    await expectExactlyOnce(subs);
    for (const s of subs) await s.stop();
    expect(figures.errorCodes.HANG ?? 0).toBe(0);
  }, SOAK ? 1_200_000 : 300_000);

  it("PostgreSQL connections terminated mid-transaction (pg_terminate_backend by application_name): retried sends apply once, the consumer recovers, nothing lost", async () => {
    const subs = await startSubscribers("pg-terminate");
    let terminating = true;
    let rounds = 0;
    // Every 25 ms, terminate the services' backends that are inside a transaction or running a query.
    const killer = (async () => {
      while (terminating) {
        const r = await q(
          `SELECT pid, application_name, pg_terminate_backend(pid) AS ok FROM pg_stat_activity
            WHERE datname = $1 AND pid <> pg_backend_pid()
              AND (application_name LIKE 'gift-%' OR application_name LIKE 'consumer-%' OR application_name LIKE 'earnings-%')
              AND state IN ('active', 'idle in transaction')`,
          [dbName],
        );
        for (const x of r.filter((y) => y.ok)) {
          figures.backendsTerminated++;
          figures.terminatedByApplication[x.application_name] = (figures.terminatedByApplication[x.application_name] ?? 0) + 1;
        }
        rounds++;
        await sleep(25);
      }
    })();
    let sent = new Map<string, string>();
    // Recharges and payout requests run through the same storm, each retried with its key until answered.
    const orders = new Map<string, string>();
    const payouts = new Map<string, string>();
    const money = (async () => {
      // Buyers in parallel, each buying one after another. A recharge whose transaction dies after the order
      // row committed stays PROCESSING until the wallet re-drives it (~60 s): CI keeps this to one per buyer.
      await Promise.all(["fault-buyer-0", "fault-buyer-1"].map(async (b) => {
        for (let i = 0; i < (SOAK ? 3 : 1); i++) {
          const key = `pg-recharge-${b}-${i}`;
          const d = await decided(`recharge ${key}`, `mutation($i: RechargeInput!) { recharge(input: $i) { order { id status } userErrors { code } } }`,
            { i: { customCoins: 1000 + i, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: key } }, tokens.get(b)!);
          expect(d.recharge.userErrors).toEqual([]);
          orders.set(key, d.recharge.order.id);
        }
      }));
      for (const h of hosts) {
        const key = `pg-payout-${h}`;
        const d = await decided(`payout ${key}`, `mutation($i: RequestPayoutInput!) { requestPayout(input: $i) { payout { id } userErrors { code } } }`,
          { i: { diamonds: 10_000, idempotencyKey: key } }, tokens.get(h)!);
        expect(d.requestPayout.userErrors).toEqual([]);
        payouts.set(key, d.requestPayout.payout.id);
      }
    })();
    try {
      [sent] = await Promise.all([sendMany("pg-terminate", () => undefined), money]);
    } finally {
      terminating = false;
      await killer;
    }
    figures.faultsInjected += rounds;
    expect(figures.backendsTerminated, "the fault really hit transactions").toBeGreaterThan(0);
    expect(sent.size).toBe(SENDERS * SENDS_PER_SENDER);
    await expectExactlyOnce(subs);
    // One order per recharge key and one payout per payout key, whatever was retried; money invariants (above) hold.
    const o = await q(`SELECT count(*)::int AS n FROM wallet.recharge_orders WHERE user_id LIKE 'fault-buyer-%'`);
    expect(o[0].n).toBe(orders.size);
    expect(new Set(orders.values()).size).toBe(orders.size);
    const p = await q(`SELECT count(*)::int AS n FROM earnings.payouts WHERE creator_id LIKE 'fault-host-%'`);
    expect(p[0].n).toBe(payouts.size);
    const credited = await q(`SELECT count(*)::int AS n FROM wallet.ledger_entries WHERE type = 'RECHARGE' AND user_id LIKE 'fault-buyer-%'`);
    const succeeded = await q(`SELECT count(*)::int AS n FROM wallet.recharge_orders WHERE status = 'SUCCEEDED' AND user_id LIKE 'fault-buyer-%'`);
    expect(credited[0].n, "each succeeded order credited exactly once").toBe(succeeded[0].n);
    const statuses = await q(`SELECT status, count(*)::int AS n FROM wallet.recharge_orders WHERE user_id LIKE 'fault-buyer-%' GROUP BY status`);
    Object.assign(figures, { rechargesUnderTermination: Object.fromEntries(statuses.map((r) => [r.status, r.n])), payoutsUnderTermination: payouts.size });
    // Every service is still up and answering.
    for (const s of ["gateway", "wallet", "catalog", "earnings"] as ServiceName[]) await sup.waitHealthy(s, 10_000);
    for (const s of subs) await s.stop();
    expect(figures.errorCodes.HANG ?? 0).toBe(0);
  }, SOAK ? 1_200_000 : 300_000);
});
