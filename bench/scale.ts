import { randomBytes, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { loadBenchSettings } from "./config.js";
import { ensureDatabase } from "../platform/db.js";
import { isEntryPoint } from "../platform/main.js";
import { migrateAndSeed } from "../scripts/database.js";
import { startEmbeddedPostgres, type EmbeddedServer } from "../scripts/embedded-pg.js";
import { ROOT } from "../scripts/supervisor.js";
import { pool } from "./lib/client.js";
import { Fleet, type Tier } from "./lib/fleet.js";
import { postJson } from "./lib/post.js";
import { round, sleep, summarize } from "./lib/stats.js";
import { buildWorld, sendGiftBody, type Host, type World } from "./lib/world.js";
import { ResumingViewer } from "./lib/resuming-viewer.js";
import { committedByRoom, waitForCredits, whyNotCredited } from "./lib/scale-checks.js";

/**
 * `npm run bench:scale`: the scale test of docs/scaling.md. Several instances of every scaled tier
 * (default 3 gateways, 3 earnings, 2 wallets, 1 catalog) as local processes on one PostgreSQL
 * and, when NATS_URL answers, one NATS; senders and viewers spread over the gateways; every
 * `--kill-every` seconds one random instance of a scaled tier is SIGKILLed and restarted.
 *
 * Senders retry a send with the same idempotency key, on another gateway, until it has a
 * definite answer (a payment system's client does); viewers that lose their stream reconnect to
 * another gateway with their last cursor. At the end it checks, from the database and from
 * what every viewer received:
 *   - every acknowledged gift committed once under its key, and every committed gift is one of the
 *     run's sends (a send whose answer was lost may commit; its sender's retry must then get it);
 *   - every sender's coins = recharged − Σ their committed gifts, and equal to their ledger sum;
 *   - every committed gift credited once (earnings.gift_credits) and on the room feed once, checked
 *     after the consumers have caught up;
 *   - every viewer got every committed gift of its room exactly once;
 *   - every send got a definite answer within SEND_GIVE_UP_MS;
 * and reports lag p50/p99 from the gift's database commit to its credit and to each viewer.
 * Writes bench/results/scale-<timestamp>.json; exits 1 when anything was lost or doubled.
 */
const { values } = parseArgs({
  options: {
    gateways: { type: "string", default: "3" },
    earnings: { type: "string", default: "3" },
    wallets: { type: "string", default: "2" },
    sends: { type: "string", default: "5000" },
    viewers: { type: "string", default: "2000" },
    rooms: { type: "string", default: "10" },
    rate: { type: "string", default: "60" },
    "kill-every": { type: "string", default: "6" },
    /** Comma-separated tiers whose instances take the kills (default: every scaled tier). */
    kill: { type: "string", default: "gateway,earnings,wallet" },
    out: { type: "string" },
    /** "nats" (default when NATS_URL, or 127.0.0.1:4222, answers) or "postgres". */
    transport: { type: "string" },
  },
});
const n = (k: keyof typeof values) => {
  const v = Number(values[k]);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`--${k} must be a whole number, got ${values[k]}`);
  return v;
};
const SENDERS = 100;
/** A send still without a definite answer after this is reported as unresolved (and fails the run). */
const SEND_GIVE_UP_MS = 120_000;
/** Viewers are given this long without progress to catch up at the end. */
const CATCH_UP_IDLE_MS = 30_000;
/** Attempt errors kept per send, to say why a send stayed unresolved. */
const MAX_HISTORY = 12;

const t0 = Date.now();
const log = (m: string) => process.stderr.write(`[scale +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}\n`);

async function natsAnswers(url: string): Promise<boolean> {
  const { connect } = await import("@nats-io/transport-node");
  try {
    const nc = await connect({ servers: url, timeout: 2000, reconnect: false });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

interface SendOutcome {
  key: string;
  senderId: string;
  room: string;
  giftEventId: string | null;
  attempts: number;
  error: string | null;
  /** Each failed attempt: "<gateway index>: <error>" (the first MAX_HISTORY). */
  history: string[];
}

/** One send, retried with the same key on the next gateway until the answer is definite. */
async function sendUntilDefinite(gateways: () => string[], world: World, k: number, host: Host): Promise<SendOutcome> {
  const sender = world.senders[k % world.senders.length];
  const key = randomUUID();
  const body = sendGiftBody(world, host, key);
  const out: SendOutcome = { key, senderId: sender.id, room: host.liveSessionId, giftEventId: null, attempts: 0, error: null, history: [] };
  const end = Date.now() + SEND_GIVE_UP_MS;
  for (let g = k; Date.now() < end; g++) {
    const urls = gateways();
    out.attempts++;
    const started = Date.now();
    try {
      const res = await postJson(urls[g % urls.length], body, { authorization: sender.authorization }, 15_000);
      const p = res.json?.data?.sendGift;
      if (p?.giftEvent?.id) return { ...out, giftEventId: p.giftEvent.id, error: null };
      if (p?.userErrors?.length && p.userErrors[0].code !== "SERVICE_UNAVAILABLE") return { ...out, error: p.userErrors[0].code };
      out.error = res.json?.errors?.[0]?.extensions?.code ?? p?.userErrors?.[0]?.code ?? `HTTP ${res.status}`;
    } catch (e) {
      out.error = (e as Error).message.slice(0, 60);
    }
    if (out.history.length < MAX_HISTORY) out.history.push(`+${((started - t0) / 1000).toFixed(1)}s gateway-${(g % urls.length) + 1}: ${out.error}`);
    await sleep(100 + Math.random() * 200);
  }
  return out;
}

async function main(): Promise<void> {
  const counts: Record<Tier, number> = { gateway: n("gateways"), earnings: n("earnings"), wallet: n("wallets"), catalog: 1 };
  const settings = loadBenchSettings();
  const natsUrl = settings.natsUrl;
  const nats = values.transport !== "postgres" && (await natsAnswers(natsUrl)) ? natsUrl : null;
  if (values.transport === "nats" && !nats) throw new Error(`--transport nats: no NATS answers at ${natsUrl}`);
  log(`tiers ${JSON.stringify(counts)}; event transport: ${nats ? `NATS at ${nats}` : values.transport === "postgres" ? "PostgreSQL (--transport postgres)" : "PostgreSQL (no NATS answered)"}`);

  let embedded: EmbeddedServer | null = null;
  let tmp: string | null = null;
  let adminUrl = settings.databaseUrl;
  if (!adminUrl) {
    tmp = mkdtempSync(path.join(os.tmpdir(), "gift-scale-pg-"));
    chmodSync(tmp, 0o755);
    embedded = await startEmbeddedPostgres({ dir: path.join(tmp, "data"), persistent: true, quiet: true, settings: { track_commit_timestamp: "on", max_connections: "400" } });
    adminUrl = embedded.url;
  }
  const databaseUrl = await ensureDatabase(adminUrl, `gift_scale_${Date.now()}_${randomBytes(3).toString("hex")}`);
  await migrateAndSeed(databaseUrl);
  const jwtSecret = randomBytes(32).toString("base64url");
  const runTag = randomBytes(4).toString("hex");
  const fleet = new Fleet({
    databaseUrl,
    counts,
    env: {
      NODE_ENV: "production",
      JWT_SECRET: jwtSecret,
      SERVICE_SECRET: randomBytes(32).toString("base64url"),
      PAYMENT_WEBHOOK_SECRET: `whsec_scale_${randomBytes(16).toString("hex")}`,
      LOG_LEVEL: settings.scaleLogLevel,
      WS_MAX_SOCKETS_PER_ADDRESS: "1000000",
      WS_MAX_SOCKETS_PER_USER: "1000000",
      WS_INTERNAL_MAX_SOCKETS_PER_ADDRESS: "1000000",
      MONEY_RATE_LIMITS: "sendGift=100000:6000000,recharge=100000:6000000",
      DB_POOL_SIZE: "8",
      // Its own stream and subjects on a shared server (the machine's NATS also serves tests and npm start).
      ...(nats ? { NATS_URL: nats, NATS_STREAM: `SCALE_${runTag}`, NATS_SUBJECT_PREFIX: `scale${runTag}`, NATS_FEED_SUBJECT_PREFIX: `scalefeed${runTag}` } : {}),
    },
  });
  const result: Record<string, unknown> = { startedAt: new Date().toISOString(), counts, transport: nats ? "nats" : "postgres", cores: os.cpus().length, node: process.version };
  let failed = true;
  try {
    await fleet.startAll();
    log(`fleet up: ${fleet.describe()}`);
    const world = await buildWorld(fleet.gatewayUrls()[0], jwtSecret, { senders: SENDERS, hosts: n("rooms") - 1, viewers: n("viewers"), coinsPerSender: Math.max(1000, Math.ceil(n("sends") / SENDERS) * 2) });
    const rooms = [world.hot, ...world.hosts].slice(0, n("rooms"));
    log(`world: ${world.senders.length} senders, ${rooms.length} rooms, ${world.viewers.length} viewers`);

    const viewers = world.viewers.map((v, i) => new ResumingViewer(() => fleet.gatewayWsUrls(), i, v.token, rooms[i % rooms.length].liveSessionId));
    await pool(viewers, 50, (v) => v.start());
    log(`viewers subscribed over ${counts.gateway} gateways`);

    // Chaos: one random instance of a scaled tier down every --kill-every seconds, back after a moment.
    const kills: { at: number; instance: string }[] = [];
    let chaos = true;
    const killEverySec = n("kill-every");
    const killTiers = values.kill.split(",").map((t) => t.trim()) as Tier[];
    for (const t of killTiers) if (!["gateway", "earnings", "wallet"].includes(t)) throw new Error(`--kill: unknown tier ${t}`);
    const chaosLoop = (async () => {
      await sleep(killEverySec * 1000);
      while (chaos && killEverySec > 0) {
        const victim = fleet.randomScaledInstance(killTiers);
        kills.push({ at: Date.now() - t0, instance: victim });
        log(`kill -9 ${victim}`);
        await fleet.kill(victim);
        await sleep(1500);
        await fleet.restart(victim);
        await sleep(killEverySec * 1000);
      }
    })();

    const total = n("sends");
    const rate = n("rate");
    const sendStart = Date.now();
    const outcomes: SendOutcome[] = [];
    const inflight = new Set<Promise<void>>();
    for (let k = 0; k < total; k++) {
      const due = sendStart + (k / rate) * 1000;
      if (due > Date.now()) await sleep(due - Date.now());
      const p = sendUntilDefinite(() => fleet.gatewayUrls(), world, k, rooms[k % rooms.length]).then((o) => void outcomes.push(o));
      const tracked = p.finally(() => inflight.delete(tracked));
      inflight.add(tracked);
      if (k % 500 === 0) log(`sent ${k}/${total}`);
    }
    await Promise.all(inflight);
    chaos = false;
    await chaosLoop;
    const acked = outcomes.filter((o) => o.giftEventId);
    log(`sends done: ${acked.length} acknowledged, ${outcomes.length - acked.length} refused or unresolved; ${kills.length} kills; waiting for viewers`);

    // Judge delivery only once every committed gift is credited (the feed is written with the
    // credit): a viewer cannot be late for an event that does not exist yet.
    await waitForCredits(databaseUrl, log);
    // Every committed gift of a room, acknowledged to its sender or not, must reach its viewers.
    const byRoom = await committedByRoom(databaseUrl);
    await waitForViewers(viewers, byRoom);
    await pool(viewers, 100, (v) => v.stop());

    const checks = await verify(databaseUrl, world, acked, outcomes);
    if (checks.summary.notCredited > 0) {
      result.stuck = await whyNotCredited(databaseUrl, nats, nats ? `SCALE_${runTag}` : null);
      // Which earnings processes still answer (a blocked one would hold its claims and pull nothing).
      (result.stuck as Record<string, unknown>).health = await fleet.probe("earnings");
    }
    let lost = 0;
    let doubled = 0;
    const viewerLagMs: number[] = [];
    const lostBy: { viewer: number; room: string; reconnects: number; missing: number; firstMissingCommitSec: number | null; errors: string[] }[] = [];
    for (const [vi, v] of viewers.entries()) {
      const ids = byRoom.get(v.room) ?? new Set<string>();
      let missing = 0;
      let firstMissing: number | null = null;
      for (const id of ids) {
        const c = v.seen.get(id) ?? 0;
        if (c === 0) {
          lost++;
          missing++;
          const at = checks.commitAt.get(id);
          if (at !== undefined && (firstMissing === null || at < firstMissing)) firstMissing = at;
        }
        if (c > 1) doubled += c - 1;
        const at = v.firstAt.get(id);
        const commit = checks.commitAt.get(id);
        if (at !== undefined && commit !== undefined) viewerLagMs.push(at - commit);
      }
      if (missing > 0) lostBy.push({ viewer: vi, room: v.room, reconnects: v.reconnects, missing, firstMissingCommitSec: firstMissing === null ? null : round((firstMissing + performance.timeOrigin - t0) / 1000, 1), errors: v.errors });
    }
    const s = (xs: number[]) => summarize(xs);
    Object.assign(result, {
      sends: { requested: total, acknowledged: acked.length, refused: outcomes.filter((o) => !o.giftEventId).map((o) => o.error), unresolvedHistory: outcomes.filter((o) => !o.giftEventId).slice(0, 5).map((o) => o.history), retried: outcomes.filter((o) => o.attempts > 1).length, maxAttempts: Math.max(...outcomes.map((o) => o.attempts)) },
      kills,
      viewers: { count: viewers.length, reconnects: viewers.reduce((a, v) => a + v.reconnects, 0), eventsExpected: viewers.reduce((a, v) => a + (byRoom.get(v.room)?.size ?? 0), 0), lost, doubled, errors: [...new Set(viewers.flatMap((v) => v.errors))].slice(0, 8), viewersMissingEvents: lostBy.length, sampleMissing: lostBy.slice(0, 10) },
      database: checks.summary,
      lagMs: { commitToCredit: s(checks.creditLagMs), commitToViewer: s(viewerLagMs) },
      elapsedSec: round((Date.now() - t0) / 1000, 1),
    });
    failed = lost > 0 || doubled > 0 || !checks.ok || outcomes.some((o) => !o.giftEventId);
    result.passed = !failed;
  } finally {
    await fleet.stopAll();
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect().then(
      () => admin.query(`DROP DATABASE IF EXISTS "${new URL(databaseUrl).pathname.slice(1)}" WITH (FORCE)`).finally(() => admin.end()),
      () => undefined,
    );
    await embedded?.stop().catch(() => undefined);
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
  const outDir = values.out ?? path.join(ROOT, "bench", "results");
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `scale-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2) + "\n");
  process.stdout.write(JSON.stringify(result, null, 2) + "\n");
  log(`wrote ${path.relative(ROOT, file)}: ${failed ? "FAILED" : "passed"}`);
  process.exit(failed ? 1 : 0);
}

async function waitForViewers(viewers: ResumingViewer[], byRoom: Map<string, Set<string>>): Promise<void> {
  const missing = () => viewers.reduce((a, v) => a + [...(byRoom.get(v.room) ?? [])].filter((id) => !v.seen.has(id)).length, 0);
  let last = missing();
  let since = Date.now();
  while (last > 0 && Date.now() - since < CATCH_UP_IDLE_MS) {
    await sleep(500);
    const now = missing();
    if (now !== last) since = Date.now();
    last = now;
  }
}

/** What the database says, against what the senders were told. */
async function verify(databaseUrl: string, world: World, acked: SendOutcome[], outcomes: SendOutcome[]) {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const ids = acked.map((o) => o.giftEventId!);
    const committed = await c.query<{ id: string; at_ms: number | null }>(
      `SELECT id::text, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000)::float8 AS at_ms FROM wallet.gift_events`,
    ).catch(() => c.query<{ id: string; at_ms: number | null }>(`SELECT id::text, NULL::float8 AS at_ms FROM wallet.gift_events`));
    const commitAt = new Map<string, number>();
    for (const r of committed.rows) if (r.at_ms !== null) commitAt.set(r.id, r.at_ms - performance.timeOrigin);
    const inDb = new Set(committed.rows.map((r) => r.id));
    const notCommitted = ids.filter((id) => !inDb.has(id)).length;
    const unacknowledgedButCommitted = committed.rows.length - ids.filter((id) => inDb.has(id)).length;
    const credits = await c.query<{ id: string; at_ms: number | null }>(
      `SELECT gift_event_id::text AS id, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000)::float8 AS at_ms FROM earnings.gift_credits`,
    ).catch(() => c.query<{ id: string; at_ms: number | null }>(`SELECT gift_event_id::text AS id, NULL::float8 AS at_ms FROM earnings.gift_credits`));
    const credited = new Set(credits.rows.map((r) => r.id));
    const notCredited = committed.rows.filter((r) => !credited.has(r.id)).length;
    const creditLagMs: number[] = [];
    for (const r of credits.rows) {
      const commit = commitAt.get(r.id);
      if (r.at_ms !== null && commit !== undefined) creditLagMs.push(r.at_ms - performance.timeOrigin - commit);
    }
    const feed = await c.query<{ id: string; n: number }>(`SELECT id, count(*)::int AS n FROM earnings.gift_feed WHERE kind = 'gift' GROUP BY id`);
    const feedIds = new Map(feed.rows.map((r) => [r.id, r.n]));
    const notOnFeed = committed.rows.filter((r) => !feedIds.has(r.id)).length;
    const onFeedTwice = feed.rows.filter((r) => r.n > 1).length;
    // Coins: every sender's balance = recharged − their committed gifts (acknowledged or not), and =
    // the sum of their ledger. Every committed gift is one of this run's sends, once (its key).
    const spentRows = await c.query<{ sender_id: string; coins: string }>(`SELECT sender_id, sum(coins)::text AS coins FROM wallet.gift_events GROUP BY sender_id`);
    const spent = new Map(spentRows.rows.map((r) => [r.sender_id, Number(r.coins)]));
    const keyed = await c.query<{ key: string; id: string | null }>(`SELECT key, response->>'id' AS id FROM wallet.idempotency_keys WHERE operation = 'sendGift'`);
    const ourKeys = new Map(outcomes.map((o) => [o.key, o]));
    const committedByKey = new Map(keyed.rows.map((r) => [r.key, r.id]));
    const committedOfOtherKeys = keyed.rows.filter((r) => !ourKeys.has(r.key)).length;
    const ackedWithOtherId = acked.filter((o) => committedByKey.get(o.key) !== o.giftEventId).length;
    // For sends that never got an answer: when (run seconds) their gift committed, if it did.
    const unresolved = outcomes.filter((o) => !o.giftEventId);
    const unresolvedCommits = unresolved.length
      ? (
          await c.query<{ key: string; at_ms: number | null; sender_id: string }>(
            `SELECT k.key, k.user_id AS sender_id, (extract(epoch FROM pg_xact_commit_timestamp(g.xmin)) * 1000)::float8 AS at_ms
               FROM wallet.idempotency_keys k LEFT JOIN wallet.gift_events g ON g.id = (k.response->>'id')::uuid WHERE k.key = ANY($1)`,
            [unresolved.map((o) => o.key)],
          ).catch(() => ({ rows: [] }))
        ).rows.map((r) => ({ sender: r.sender_id, committedAtSec: r.at_ms === null ? null : round((r.at_ms - t0) / 1000, 1) }))
      : [];
    const eventsWithoutKey = committed.rows.length - keyed.rows.filter((r) => r.id !== null && inDb.has(r.id)).length;
    const balances = await c.query<{ user_id: string; coins: string; ledger: string }>(
      `SELECT a.user_id, a.coins::text, COALESCE((SELECT sum(e.amount) FROM wallet.ledger_entries e WHERE e.user_id = a.user_id), 0)::text AS ledger
         FROM wallet.accounts a WHERE a.user_id = ANY($1)`,
      [world.senders.map((s) => s.id)],
    ).catch((e: Error) => ({ rows: [] as { user_id: string; coins: string; ledger: string }[], error: e.message }));
    let coinsWrong = 0;
    let ledgerWrong = 0;
    for (const b of balances.rows) {
      if (Number(b.coins) !== world.coinsPerSender - (spent.get(b.user_id) ?? 0)) coinsWrong++;
      if (Number(b.ledger) !== Number(b.coins)) ledgerWrong++;
    }
    const summary = {
      giftEvents: committed.rows.length,
      notCommitted,
      unacknowledgedButCommitted,
      committedOfOtherKeys,
      ackedWithOtherId,
      eventsWithoutKey,
      credited: credits.rows.length,
      notCredited,
      notOnFeed,
      onFeedTwice,
      sendersChecked: balances.rows.length,
      sendersWithWrongCoins: coinsWrong,
      sendersWhoseLedgerDisagrees: ledgerWrong,
      ...("error" in balances ? { balanceQueryError: balances.error } : {}),
      unresolvedSends: unresolved.length,
      unresolvedCommits: unresolvedCommits.slice(0, 10),
    };
    const ok =
      notCommitted === 0 && committedOfOtherKeys === 0 && ackedWithOtherId === 0 && eventsWithoutKey === 0 && notCredited === 0 && credits.rows.length === committed.rows.length && notOnFeed === 0 && onFeedTwice === 0 && coinsWrong === 0 && ledgerWrong === 0 && balances.rows.length === world.senders.length;
    return { ok, summary, commitAt, creditLagMs };
  } finally {
    await c.end();
  }
}

if (isEntryPoint(import.meta.url)) {
  main().catch((e) => {
    process.stderr.write(`${(e as Error).stack ?? e}\n`);
    process.exit(2);
  });
}
