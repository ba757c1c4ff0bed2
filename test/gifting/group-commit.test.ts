import "reflect-metadata";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { BATCH_ATTEMPTS } from "../../platform/group-commit.js";
import { balanceOf, catalogGifts, eventually, fund, goLive, key, refund, sendGift, viewerToken, type CatalogGift, type SendInput } from "./support.js";
import { scrape, valueOf } from "../observability/prom.js";

/**
 * sendGift's group commit (DECISIONS 90): concurrent sends in one wallet process are written by one
 * `wallet.send_gifts` statement per batch. Through the gateway, on real PostgreSQL.
 *
 * Batches are made deterministic with a gate: with one batch in flight at a time, a send whose
 * account row the test holds locked keeps its batch waiting in PostgreSQL, so every send made
 * meanwhile queues in the wallet; releasing the lock lets the queue go out in batches of
 * SEND_BATCH_MAX_SIZE, in arrival order.
 */
const BATCH = 64;
process.env.SEND_BATCH_MAX_SIZE = String(BATCH);
process.env.SEND_BATCH_MAX_WAIT_MS = "2";
process.env.SEND_BATCH_MAX_IN_FLIGHT = "1";
// Sends held behind the gate wait while 200 requests arrive, which takes longer than the gateway's
// default 10 s subgraph timeout on a loaded machine.
process.env.SUBGRAPH_TIMEOUT_MS = "120000";

let stack: Stack;
let rose: CatalogGift; // 1 coin, streakable
let corgi: CatalogGift; // 299 coins
let admin: pg.Pool;
const batches = () => stack.subgraphs.wallet.services.gifting.batches.stats();

beforeAll(async () => {
  stack = await startStack("groupcommit");
  const gifts = await catalogGifts(stack);
  rose = gifts.get("rose")!;
  corgi = gifts.get("corgi")!;
  admin = new pg.Pool({ connectionString: stack.databaseUrl, max: 4 });
  for (const h of ["gc-host-0", "gc-host-1", "gc-host-2"]) await goLive(stack, h);
  await fund(stack, "gc-gate", 1000);
});
afterAll(async () => {
  await admin?.end();
  await stack?.stop();
});

type Result = Awaited<ReturnType<typeof sendGift>>;
const codeOf = (r: Result) => r.res.errors?.[0]?.extensions?.code ?? (r.payload?.userErrors[0]?.code as string | undefined) ?? "OK";

/** The wallet's backends running a batch that waits for a lock (optionally only those that already wrote rows). */
async function waitingBatches(wrote = false): Promise<{ pid: number }[]> {
  const { rows } = await admin.query(
    `SELECT pid FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%wallet.send_gifts%'
        AND wait_event_type = 'Lock' ${wrote ? "AND backend_xid IS NOT NULL" : ""}`,
  );
  return rows;
}

/**
 * Holds the gate sender's account row, sends one gift from it (its batch waits in PostgreSQL), runs
 * `queue` (which makes sends that queue behind it) and waits until at least `expectQueued` sends are
 * queued in the wallet; then releases the gate. Returns what `queue` returned. (At most 127 can
 * queue: the gateway keeps 128 sockets per subgraph, and the gate's request holds one.)
 */
async function behindGate<T>(expectQueued: number, queue: () => T): Promise<T> {
  const lock = await admin.connect();
  try {
    await lock.query("BEGIN");
    await lock.query(`SELECT 1 FROM wallet.accounts WHERE user_id = 'gc-gate' FOR UPDATE`);
    const token = await viewerToken(stack, "gc-gate");
    const gate = sendGift(stack, token, { giftId: rose.id, hostId: "gc-host-0", idempotencyKey: key("gate") });
    await eventually(async () => expect(await waitingBatches()).toHaveLength(1), 30_000);
    const queued = queue();
    await eventually(async () => expect(batches().queued).toBeGreaterThanOrEqual(expectQueued), 60_000);
    await lock.query("COMMIT");
    expect(codeOf(await gate)).toBe("OK");
    return queued;
  } finally {
    lock.release();
  }
}

/** Per sender: balance = Σ its ledger, every GIFT_SENT entry has one gift event and one gift.sent event, and vice versa. */
async function ledgerOf(user: string) {
  const { rows } = await admin.query(
    `SELECT a.coins::bigint AS coins,
            (SELECT coalesce(sum(amount), 0) FROM wallet.ledger_entries WHERE user_id = $1)::bigint AS ledger,
            (SELECT count(*) FROM wallet.ledger_entries WHERE user_id = $1 AND type = 'GIFT_SENT')::int AS debits,
            (SELECT coalesce(-sum(amount), 0) FROM wallet.ledger_entries WHERE user_id = $1 AND type = 'GIFT_SENT')::bigint AS debited,
            (SELECT count(*) FROM wallet.gift_events g JOIN wallet.ledger_entries l ON l.id = g.ledger_entry_id AND l.reference = g.id::text AND l.amount = -g.coins WHERE g.sender_id = $1)::int AS gifts,
            (SELECT count(*) FROM eventlog.events e JOIN wallet.gift_events g ON g.id = e.event_id WHERE g.sender_id = $1 AND e.type = 'gift.sent')::int AS events
       FROM wallet.accounts a WHERE a.user_id = $1`,
    [user],
  );
  const r = rows[0];
  return { coins: Number(r.coins), ledger: Number(r.ledger), debits: r.debits, debited: Number(r.debited), gifts: r.gifts, events: r.events };
}

describe("sendGift group commit (through the gateway, real PostgreSQL)", () => {
  it("200 concurrent sends from 20 senders across batch boundaries, with same-key duplicates inside a batch: each sender's coins exact, ledgers match", async () => {
    const senders = Array.from({ length: 20 }, (_, i) => `gc-s${i}`);
    // s0..s15 can pay for everything; s16..s19 for exactly 5 of their 9 distinct sends (4 fail alone).
    const cost = 7; // rose × 7 (a recharge buys at least 30 coins)
    for (const [i, s] of senders.entries()) await fund(stack, s, i < 16 ? 1000 : 5 * cost);
    const tokens = await Promise.all(senders.map((s) => viewerToken(stack, s)));
    // Per sender: 9 distinct sends + one duplicate (same key, same input) of one of them, sent at once.
    const plan = senders.flatMap((s, i) => {
      const inputs: SendInput[] = Array.from({ length: 9 }, (_, j) => ({ giftId: rose.id, hostId: `gc-host-${j % 3}`, quantity: cost, idempotencyKey: key(`${s}-${j}`) }));
      return [...inputs, inputs[i % 9]].map((input, j) => ({ s, i, input, duplicated: j === i % 9 || j === 9 }));
    });
    expect(plan).toHaveLength(200);
    const before = batches();
    // A send the owners could not answer in time (the catalog's owner read times out after 3 s on a
    // badly loaded machine) fails before it reaches a batch; it counts as settled early.
    let settledEarly = 0;
    const results = await behindGate(100, async () => {
      // The 20 duplicated pairs first, one after another so both copies of a key sit side by side in
      // the queue (in the first batch after the gate); then the other 160 all at once.
      const answers = new Map<(typeof plan)[number], Promise<Result>>();
      const fire = (p: (typeof plan)[number]) =>
        answers.set(p, sendGift(stack, tokens[p.i], p.input).finally(() => settledEarly++));
      for (const p of plan.filter((x) => x.duplicated)) {
        fire(p);
        await eventually(async () => expect(batches().queued + settledEarly).toBe(answers.size), 30_000);
      }
      // The owner-read caches live 5 s and the pairs took longer: refresh them, or the burst's first
      // reads would all wait on one fetch that a loaded machine may not answer within its timeout.
      const peers = stack.subgraphs.wallet.services.giftingPeers;
      await Promise.all([peers.catalog.giftForSending(rose.id, "US"), ...[0, 1, 2].map((h) => peers.earnings.hostForGifting(`gc-host-${h}`))]);
      for (const p of plan.filter((x) => !x.duplicated)) fire(p);
      return () => Promise.all(plan.map((p) => answers.get(p)!));
    }).then((all) => all());
    const after = batches();
    // ...and is retried with the same key, as a client does (SERVICE_UNAVAILABLE: nothing was charged, or the original is replayed).
    const retried: number[] = [];
    for (const [n, r] of results.entries()) {
      for (let attempt = 0; ["SERVICE_UNAVAILABLE", "SUBGRAPH_TIMEOUT"].includes(codeOf(results[n])) && attempt < 5; attempt++) {
        if (attempt === 0) retried.push(n);
        results[n] = await sendGift(stack, tokens[plan[n].i], plan[n].input);
      }
      expect(r).toBeDefined();
    }
    if (retried.length) console.warn(`[group-commit] ${retried.length} of 200 sends failed at an owner read and were retried with their key`);

    // 200 sends went out in batches of at most 64 (so at least 4 of them after the gate's), full
    // ones among them, and every duplicated pair met inside one batch: its second copy got the first's result.
    const intactPairs = senders.filter((_, i) => plan.filter((p) => p.i === i && p.duplicated).every((p) => !retried.includes(plan.indexOf(p)))).length;
    expect(after.batches - before.batches).toBeGreaterThanOrEqual(1 + Math.ceil((200 - retried.length) / BATCH));
    expect(after.largest).toBe(BATCH);
    expect(intactPairs).toBeGreaterThan(0);
    expect(after.duplicatesInBatch - before.duplicatesInBatch).toBe(intactPairs);
    expect(after.failed - before.failed).toBe(0);

    for (const [i, s] of senders.entries()) {
      const mine = plan.map((p, n) => ({ p, r: results[n] })).filter((x) => x.p.s === s);
      const ok = mine.filter((x) => codeOf(x.r) === "OK");
      const codes = new Set(mine.map((x) => codeOf(x.r)));
      const distinctOk = new Set(ok.map((x) => x.p.input.idempotencyKey));
      // Both copies of a key got one answer: the same gift event, or the same refusal.
      const dupKey = mine[9].p.input.idempotencyKey;
      const copies = mine.filter((x) => x.p.input.idempotencyKey === dupKey);
      expect(codeOf(copies[0].r)).toBe(codeOf(copies[1].r));
      if (codeOf(copies[0].r) === "OK") expect(copies[1].r.payload!.giftEvent).toEqual(copies[0].r.payload!.giftEvent);
      for (const x of ok) expect(x.r.payload!.giftEvent.id).toBe(ok.find((y) => y.p.input.idempotencyKey === x.p.input.idempotencyKey)!.r.payload!.giftEvent.id);
      const funded = i < 16 ? 1000 : 5 * cost;
      const sent = distinctOk.size;
      if (i < 16) {
        expect([...codes], `${s}: ${JSON.stringify(mine.filter((x) => codeOf(x.r) !== "OK").map((x) => x.r.res.errors ?? x.r.payload))}`).toEqual(["OK"]);
        expect(sent).toBe(9);
      } else {
        expect(sent, s).toBe(5);
        expect([...codes].sort()).toEqual(["INSUFFICIENT_COINS", "OK"]);
      }
      const l = await ledgerOf(s);
      expect({ ...l, s }).toEqual({ s, coins: funded - sent * cost, ledger: funded - sent * cost, debits: sent, debited: sent * cost, gifts: sent, events: sent });
      // senderBalanceAfter: one distinct balance per debit, as if the sends had been made one by one.
      const seen = [...distinctOk].map((k) => ok.find((x) => x.p.input.idempotencyKey === k)!.r.payload!.giftEvent.senderBalanceAfter as number);
      expect(seen.sort((a, b) => b - a)).toEqual(Array.from({ length: sent }, (_, n) => funded - (n + 1) * cost));
    }
  });

  it("one batch holding every kind of refusal: each fails alone with the answer it gets on its own, the others commit", async () => {
    await fund(stack, "gc-ok-a", 1000);
    await fund(stack, "gc-ok-b", 1000);
    await fund(stack, "gc-poor", 30);
    // In debt: spends part of a recharge that is then refunded.
    const order = await fund(stack, "gc-debtor", 100);
    expect(codeOf(await sendGift(stack, await viewerToken(stack, "gc-debtor"), { giftId: rose.id, hostId: "gc-host-0", quantity: 60, idempotencyKey: key("debt") }))).toBe("OK");
    await refund(stack, order.id);
    expect(await balanceOf(stack, "gc-debtor")).toEqual({ coins: 0, debt: 60 });
    // A combo 9 short of its cap.
    await fund(stack, "gc-streaker", 20_000);
    const streaker = await viewerToken(stack, "gc-streaker");
    expect(codeOf(await sendGift(stack, streaker, { giftId: rose.id, hostId: "gc-host-1", quantity: 9990, comboId: "gc-combo", idempotencyKey: key("combo") }))).toBe("OK");
    // Rate limited: the durable bucket is empty for a minute (the gateway's own bucket has not seen this user).
    await fund(stack, "gc-limited", 1000);
    await admin.query(`INSERT INTO wallet.rate_limits (user_id, action, tat) VALUES ('gc-limited', 'sendGift', now() + interval '1 hour')`);
    await fund(stack, "gc-reuser", 1000);

    const t = Object.fromEntries(await Promise.all(["gc-ok-a", "gc-ok-b", "gc-poor", "gc-debtor", "gc-limited", "gc-reuser"].map(async (u) => [u, await viewerToken(stack, u)])));
    const reused = key("reused");
    const sends: [string, string, SendInput][] = [
      ["ok-a", t["gc-ok-a"], { giftId: corgi.id, hostId: "gc-host-0", idempotencyKey: key("a") }],
      ["poor", t["gc-poor"], { giftId: corgi.id, hostId: "gc-host-0", idempotencyKey: key("poor") }],
      ["debtor", t["gc-debtor"], { giftId: rose.id, hostId: "gc-host-0", idempotencyKey: key("debtor") }],
      ["combo-full", streaker, { giftId: rose.id, hostId: "gc-host-1", quantity: 10, comboId: "gc-combo", idempotencyKey: key("full") }],
      ["combo-other-host", streaker, { giftId: rose.id, hostId: "gc-host-2", quantity: 1, comboId: "gc-combo", idempotencyKey: key("other") }],
      ["combo-fits", streaker, { giftId: rose.id, hostId: "gc-host-1", quantity: 9, comboId: "gc-combo", idempotencyKey: key("fits") }],
      ["limited", t["gc-limited"], { giftId: rose.id, hostId: "gc-host-0", idempotencyKey: key("limited") }],
      ["reuse-first", t["gc-reuser"], { giftId: rose.id, hostId: "gc-host-0", quantity: 1, idempotencyKey: reused }],
      ["reuse-other-input", t["gc-reuser"], { giftId: rose.id, hostId: "gc-host-0", quantity: 2, idempotencyKey: reused }],
      ["ok-b", t["gc-ok-b"], { giftId: rose.id, hostId: "gc-host-2", quantity: 7, idempotencyKey: key("b") }],
    ];
    const before = batches();
    // Queued one at a time so the batch holds them in this order.
    const results = await behindGate(sends.length, () => {
      const out: Promise<Result>[] = [];
      const next = async (i: number): Promise<void> => {
        if (i === sends.length) return;
        out.push(sendGift(stack, sends[i][1], sends[i][2]));
        await eventually(async () => expect(batches().queued).toBe(i + 1), 30_000);
        await next(i + 1);
      };
      return next(0).then(() => Promise.all(out));
    });
    expect(batches().batches - before.batches, "the gate's batch, then ONE batch with all of them").toBe(2);
    const by = Object.fromEntries(sends.map(([name], i) => [name, results[i]]));

    expect(codeOf(by["ok-a"])).toBe("OK");
    expect(codeOf(by["ok-b"])).toBe("OK");
    expect(codeOf(by["combo-fits"])).toBe("OK");
    expect(codeOf(by["reuse-first"])).toBe("OK");
    expect(by["poor"].payload!.userErrors).toEqual([{ code: "INSUFFICIENT_COINS", message: "not enough coins: 30 available, 299 needed", field: null, currentUnitCost: null, balance: 30, shortfall: 269 }]);
    expect(by["debtor"].payload!.userErrors).toEqual([{ code: "IN_DEBT", message: "sending is blocked while you owe 60 coins", field: null, currentUnitCost: null, balance: 0, shortfall: null }]);
    expect(by["combo-full"].payload!.userErrors).toEqual([
      { code: "LIMIT_EXCEEDED", message: "a combo holds at most 9999 gifts (9 left); start a new comboId", field: ["input", "quantity"], currentUnitCost: null, balance: null, shortfall: null },
    ]);
    expect(by["combo-other-host"].payload!.userErrors).toEqual([
      { code: "INVALID_INPUT", message: "a combo continues one gift to one host; start a new comboId for a different gift, host or session", field: ["input", "comboId"], currentUnitCost: null, balance: null, shortfall: null },
    ]);
    expect(by["reuse-other-input"].payload!.userErrors).toEqual([{ code: "IDEMPOTENCY_KEY_REUSED", message: "this idempotency key was used with a different request", field: ["input", "idempotencyKey"], currentUnitCost: null, balance: null, shortfall: null }]);
    expect(by["limited"].res.errors?.[0]).toMatchObject({ extensions: { code: "RATE_LIMITED", retryAfterSeconds: expect.any(Number) } });
    expect(by["limited"].res.errors![0].extensions.retryAfterSeconds).toBeGreaterThan(3000);

    // What committed is exactly the four successes (the combo at its cap); the refusals wrote nothing.
    expect(await balanceOf(stack, "gc-ok-a")).toEqual({ coins: 1000 - 299, debt: 0 });
    expect(await balanceOf(stack, "gc-ok-b")).toEqual({ coins: 1000 - 7, debt: 0 });
    expect(await balanceOf(stack, "gc-poor")).toEqual({ coins: 30, debt: 0 });
    expect(await balanceOf(stack, "gc-debtor")).toEqual({ coins: 0, debt: 60 });
    expect(await balanceOf(stack, "gc-streaker")).toEqual({ coins: 20_000 - 9999, debt: 0 });
    expect(await balanceOf(stack, "gc-limited")).toEqual({ coins: 1000, debt: 0 });
    expect(await balanceOf(stack, "gc-reuser")).toEqual({ coins: 999, debt: 0 });
    const { rows: combo } = await admin.query(`SELECT total_quantity, sends FROM wallet.gift_combos WHERE sender_id = 'gc-streaker' AND combo_id = 'gc-combo'`);
    expect(combo).toEqual([{ total_quantity: 9999, sends: 2 }]);
    const { rows: keys } = await admin.query(
      `SELECT user_id, count(*)::int AS n FROM wallet.idempotency_keys WHERE operation = 'sendGift' AND user_id IN ('gc-poor', 'gc-debtor', 'gc-limited', 'gc-reuser') GROUP BY user_id ORDER BY user_id`,
    );
    // Refused sends leave no key (a retry may succeed later); the debtor's one key is its earlier send.
    expect(keys).toEqual([{ user_id: "gc-debtor", n: 1 }, { user_id: "gc-reuser", n: 1 }]);
    const { rows: tat } = await admin.query(`SELECT tat > now() + interval '59 minutes' AS untouched FROM wallet.rate_limits WHERE user_id = 'gc-limited' AND action = 'sendGift'`);
    expect(tat).toEqual([{ untouched: true }]);
    for (const u of ["gc-ok-a", "gc-ok-b", "gc-poor", "gc-debtor", "gc-streaker", "gc-limited", "gc-reuser"]) {
      const l = await ledgerOf(u);
      expect(l.ledger, u).toBe(l.coins);
      expect({ u, gifts: l.gifts, events: l.events }).toEqual({ u, gifts: l.debits, events: l.debits });
    }
  });

  /**
   * Sends from four senders and then one whose idempotency key the test holds claimed in an open
   * transaction: their batch writes the first four and waits on the fifth's key, mid-flight, with
   * rows written (backend_xid set). Then the wallet's connection is terminated.
   */
  async function killedMidFlight(label: string, kills: number) {
    const senders = [0, 1, 2, 3].map((i) => `gc-${label}-${i}`);
    const held = `gc-${label}-held`;
    for (const u of [...senders, held]) await fund(stack, u, 1000);
    const inputs: [string, SendInput][] = [...senders, held].map((u, i) => [u, { giftId: rose.id, hostId: `gc-host-${i % 3}`, quantity: 10 + i, idempotencyKey: key(label) }]);
    const tokens = await Promise.all(inputs.map(([u]) => viewerToken(stack, u)));
    const holder = await admin.connect();
    await holder.query("BEGIN");
    await holder.query(`INSERT INTO wallet.idempotency_keys (user_id, key, operation, request_hash) VALUES ($1, $2, 'sendGift', 'held by the test')`, [held, inputs[4][1].idempotencyKey]);
    const before = batches();
    const pending = await behindGate(inputs.length, () => {
      const out: Promise<Result>[] = [];
      const next = async (i: number): Promise<void> => {
        if (i === inputs.length) return;
        out.push(sendGift(stack, tokens[i], inputs[i][1]));
        await eventually(async () => expect(batches().queued).toBe(i + 1), 30_000);
        await next(i + 1);
      };
      return next(0).then(() => out);
    });
    const results = Promise.all(pending);
    let answered = false;
    void results.finally(() => (answered = true));
    const killed = new Set<number>();
    // Kill the batch each time it waits on the held key, `kills` times or (Infinity) until the wallet answers.
    while (killed.size < kills && !answered) {
      const pid = await eventually(async () => {
        if (answered) return null;
        const fresh = (await waitingBatches(true)).filter((w) => !killed.has(w.pid));
        expect(fresh).toHaveLength(1);
        return fresh[0].pid;
      }, 30_000);
      if (pid === null) break;
      // Nothing of this batch is visible before its commit: the four sends it already wrote are not.
      const { rows } = await admin.query(`SELECT count(*)::int AS n FROM wallet.gift_events WHERE sender_id = ANY($1)`, [senders]);
      expect(rows[0].n).toBe(0);
      await admin.query(`SELECT pg_terminate_backend($1)`, [pid]);
      killed.add(pid);
    }
    return { senders, held, inputs, tokens, holder, results, before, kills: killed.size };
  }

  it("every send of one batch answers the sender's wallet as the batch left it (after all of that sender's sends), and a replay answers the wallet as it is now", async () => {
    await fund(stack, "gc-waller", 100);
    const token = await viewerToken(stack, "gc-waller");
    const WALLET = `mutation($input: SendGiftInput!) { sendGift(input: $input) { giftEvent { id senderBalanceAfter } wallet { coins debt } userErrors { code } } }`;
    const keys = [key("w1"), key("w2"), key("w3")];
    const quantities = [1, 2, 3];
    const before = batches();
    const answers = await behindGate(3, () => Promise.all(keys.map((k, i) => stack.gql(WALLET, { input: { giftId: rose.id, hostId: "gc-host-0", quantity: quantities[i], idempotencyKey: k } }, token))));
    expect(batches().batches - before.batches, "the gate's batch, then one with the three sends").toBe(2);
    for (const a of answers) expect(a.errors).toBeUndefined();
    expect(answers.map((a) => a.data.sendGift.giftEvent.senderBalanceAfter).sort((x: number, y: number) => y - x)).toEqual([99, 97, 94]);
    expect(answers.map((a) => a.data.sendGift.wallet)).toEqual([{ coins: 94, debt: 0 }, { coins: 94, debt: 0 }, { coins: 94, debt: 0 }]);
    expect(await balanceOf(stack, "gc-waller")).toEqual({ coins: 94, debt: 0 });

    const replay = await stack.gql(WALLET, { input: { giftId: rose.id, hostId: "gc-host-0", quantity: 1, idempotencyKey: keys[0] } }, token);
    expect(replay.data.sendGift.wallet).toEqual({ coins: 94, debt: 0 });
    expect(replay.data.sendGift.giftEvent.id).toBe(answers[0].data.sendGift.giftEvent.id);
  });

  it("a batch whose transaction is killed mid-flight (pg_terminate_backend) is retried by the wallet: every send committed once, nothing doubled", async () => {
    const { senders, held, inputs, tokens, holder, results, before } = await killedMidFlight("k1", 1);
    await holder.query("ROLLBACK"); // the held key is free again: the retried batch can finish
    holder.release();
    const answered = await results;
    expect(answered.map(codeOf)).toEqual(["OK", "OK", "OK", "OK", "OK"]);
    expect(batches().retries - before.retries).toBeGreaterThanOrEqual(1);
    // A client retry with the same key gets the same gift event; every sender was debited exactly once.
    for (const [i, [u, input]] of inputs.entries()) {
      const again = await sendGift(stack, tokens[i], input);
      expect(again.payload!.giftEvent).toEqual(answered[i].payload!.giftEvent);
      expect(await ledgerOf(u)).toEqual({ coins: 1000 - input.quantity!, ledger: 1000 - input.quantity!, debits: 1, debited: input.quantity!, gifts: 1, events: 1 });
    }
    expect([...senders, held]).toHaveLength(5);
  });

  it("a key claimed by a concurrent transaction that commits while the batch waits on it: the batch rolls back and is retried, that send answers IDEMPOTENCY_KEY_REUSED, the others commit once", async () => {
    const { senders, held, inputs, tokens, holder, results, before } = await killedMidFlight("c1", 0);
    // The batch read the keys before the claim was visible and now waits on it, its other rows written.
    await eventually(async () => expect(await waitingBatches(true)).toHaveLength(1), 30_000);
    await holder.query("COMMIT"); // the other request's claim (another hash) wins
    holder.release();
    const answered = await results;
    expect(answered.map(codeOf)).toEqual(["OK", "OK", "OK", "OK", "IDEMPOTENCY_KEY_REUSED"]);
    expect(batches().retries - before.retries, "the conflict rolled the batch back once").toBe(1);
    for (const [i, [u, input]] of inputs.entries()) {
      if (u === held) {
        expect(await ledgerOf(u)).toEqual({ coins: 1000, ledger: 1000, debits: 0, debited: 0, gifts: 0, events: 0 });
        continue;
      }
      expect((await sendGift(stack, tokens[i], input)).payload!.giftEvent).toEqual(answered[i].payload!.giftEvent);
      expect(await ledgerOf(u)).toEqual({ coins: 1000 - input.quantity!, ledger: 1000 - input.quantity!, debits: 1, debited: input.quantity!, gifts: 1, events: 1 });
    }
    expect(senders).toHaveLength(4);
  });

  it(`a batch killed on each of its attempts (${BATCH_ATTEMPTS}) answers every send SERVICE_UNAVAILABLE with nothing written; a retry with the same key then succeeds exactly once`, async () => {
    const { senders, held, inputs, tokens, holder, results, before, kills } = await killedMidFlight("k3", Infinity);
    const answered = await results;
    expect(kills).toBeGreaterThanOrEqual(1);
    expect(kills).toBeLessThanOrEqual(BATCH_ATTEMPTS);
    expect(batches().retries - before.retries).toBe(BATCH_ATTEMPTS - 1);
    expect(answered.map(codeOf)).toEqual(Array(5).fill("SERVICE_UNAVAILABLE"));
    expect(batches().failed - before.failed).toBe(1);
    // The wallet's /metrics says the same (group_commit_*, DECISIONS 123; one wallet in this process).
    const m = await scrape(stack.subgraphs.wallet.url);
    const q = { service: "wallet", queue: "send_gifts" };
    expect(valueOf(m.samples, "group_commit_retries_total", q)).toBe(batches().retries);
    expect(valueOf(m.samples, "group_commit_failed_batches_total", q)).toBe(batches().failed);
    const { rows } = await admin.query(
      `SELECT (SELECT count(*) FROM wallet.gift_events WHERE sender_id = ANY($1))::int AS gifts,
              (SELECT count(*) FROM wallet.ledger_entries WHERE user_id = ANY($1) AND type = 'GIFT_SENT')::int AS debits,
              (SELECT count(*) FROM wallet.idempotency_keys WHERE user_id = ANY($1) AND operation = 'sendGift')::int AS keys`,
      [senders],
    );
    expect(rows[0]).toEqual({ gifts: 0, debits: 0, keys: 0 });
    for (const u of senders) expect(await balanceOf(stack, u)).toEqual({ coins: 1000, debt: 0 });
    await holder.query("ROLLBACK");
    holder.release();
    for (const [i, [u, input]] of inputs.entries()) {
      const first = await sendGift(stack, tokens[i], input);
      expect(codeOf(first)).toBe("OK");
      expect((await sendGift(stack, tokens[i], input)).payload!.giftEvent).toEqual(first.payload!.giftEvent);
      expect(await ledgerOf(u)).toEqual({ coins: 1000 - input.quantity!, ledger: 1000 - input.quantity!, debits: 1, debited: input.quantity!, gifts: 1, events: 1 });
    }
    expect(held).toBe("gc-k3-held");
  });
});
