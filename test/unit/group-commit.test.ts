import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { GroupCommit } from "../../platform/group-commit.js";
import { loadSendBatchConfig, SEND_BATCH_DEFAULTS } from "../../subgraphs/wallet/config.js";
import { eventually } from "../support/eventually.js";

/** The group-commit queue on its own (no database): when batches go, what they hold, what a failure does. */

interface Item {
  key: string;
  n: number;
}

/** A `run` whose calls the test answers by hand. */
function manual() {
  const calls: { items: Item[]; resolve: (o: string[]) => void; reject: (e: unknown) => void }[] = [];
  const run = (items: Item[]) => new Promise<string[]>((resolve, reject) => calls.push({ items, resolve, reject }));
  const answer = (i: number) => calls[i].resolve(calls[i].items.map((x) => `${x.key}${x.n}`));
  return { calls, run, answer };
}

const transient = Object.assign(new Error("Connection terminated unexpectedly"), { transient: true });
const isTransient = (e: unknown) => (e as { transient?: boolean }).transient === true;
const names = (items: Item[]) => items.map((x) => `${x.key}${x.n}`);

describe("group commit (platform/group-commit.ts)", () => {
  it("flushes as soon as a batch is full, without waiting for the timer", async () => {
    const m = manual();
    const gc = new GroupCommit<Item, string>({ maxSize: 3, maxWaitMs: 60_000, maxInFlight: 2 }, m.run, (x) => x.key, isTransient);
    const gate = gc.submit({ key: "z", n: 0 }); // goes at once (nothing came before it) and makes company for the rest
    const answers = [1, 2, 3].map((n) => gc.submit({ key: `u${n}`, n }));
    expect(m.calls.map((c) => names(c.items))).toEqual([["z0"], ["u11", "u22", "u33"]]);
    m.answer(0);
    m.answer(1);
    expect(await Promise.all([gate, ...answers])).toEqual(["z0", "u11", "u22", "u33"]);
    await eventually(async () => expect(gc.stats()).toMatchObject({ batches: 2, items: 4, largest: 3, queued: 0, inFlight: 0 }));
  });

  it("flushes a partial batch once its oldest item has waited maxWaitMs, when another key's item came just before it", async () => {
    const m = manual();
    const gc = new GroupCommit<Item, string>({ maxSize: 100, maxWaitMs: 15, maxInFlight: 1 }, m.run, (x) => x.key, isTransient);
    const gate = gc.submit({ key: "z", n: 0 }); // the first item after a quiet spell: goes at once
    expect(m.calls).toHaveLength(1);
    const started = performance.now();
    const a = gc.submit({ key: "a", n: 1 }); // "z" came just before: company is coming, so a partial batch led by "a" waits
    const b = gc.submit({ key: "b", n: 1 });
    m.answer(0);
    await gate;
    expect(m.calls).toHaveLength(1);
    await eventually(async () => expect(m.calls).toHaveLength(2));
    expect(performance.now() - started).toBeGreaterThanOrEqual(14);
    expect(names(m.calls[1].items)).toEqual(["a1", "b1"]);
    m.answer(1);
    expect(await Promise.all([a, b])).toEqual(["a1", "b1"]);
  });

  it("does not hold the first item after a quiet spell for the timer, however long maxWaitMs is", async () => {
    const m = manual();
    const gc = new GroupCommit<Item, string>({ maxSize: 100, maxWaitMs: 60_000, maxInFlight: 1 }, m.run, (x) => x.key, isTransient);
    const a = gc.submit({ key: "a", n: 1 });
    expect(names(m.calls[0]?.items ?? [])).toEqual(["a1"]);
    m.answer(0);
    expect(await a).toBe("a1");
  });

  it("never holds a lone serial submitter's items for the timer: with no other key, company cannot come", async () => {
    const m = manual();
    const gc = new GroupCommit<Item, string>({ maxSize: 100, maxWaitMs: 60_000, maxInFlight: 1 }, m.run, (x) => x.key, isTransient);
    for (let n = 1; n <= 3; n++) {
      const answer = gc.submit({ key: "a", n }); // each one right after the previous answer, well inside maxWaitMs
      await eventually(async () => expect(m.calls).toHaveLength(n));
      m.answer(n - 1);
      expect(await answer).toBe(`a${n}`);
    }
    await eventually(async () => expect(gc.stats()).toMatchObject({ batches: 3, items: 3, largest: 1 }));
  });

  it("with maxWaitMs 0 a lone item goes at once; items arriving while every slot is busy go together when one frees", async () => {
    const m = manual();
    const gc = new GroupCommit<Item, string>({ maxSize: 10, maxWaitMs: 0, maxInFlight: 1 }, m.run, (x) => x.key, isTransient);
    const first = gc.submit({ key: "a", n: 1 });
    expect(m.calls).toHaveLength(1);
    const later = [gc.submit({ key: "b", n: 1 }), gc.submit({ key: "c", n: 1 }), gc.submit({ key: "d", n: 1 })];
    expect(gc.stats()).toMatchObject({ queued: 3, inFlight: 1 });
    m.answer(0);
    await first;
    await eventually(async () => expect(m.calls).toHaveLength(2));
    expect(names(m.calls[1].items)).toEqual(["b1", "c1", "d1"]);
    m.answer(1);
    expect(await Promise.all(later)).toEqual(["b1", "c1", "d1"]);
  });

  it("keeps one key's items in submission order: together in one batch, never in two running batches", async () => {
    const m = manual();
    const gc = new GroupCommit<Item, string>({ maxSize: 10, maxWaitMs: 0, maxInFlight: 4 }, m.run, (x) => x.key, isTransient);
    const a1 = gc.submit({ key: "a", n: 1 }); // batch 0 runs a1
    const rest = [gc.submit({ key: "a", n: 2 }), gc.submit({ key: "b", n: 1 }), gc.submit({ key: "a", n: 3 })];
    // b1 may run beside a1; a2 and a3 wait for a1's batch, whatever the free slots.
    expect(m.calls.map((c) => names(c.items))).toEqual([["a1"], ["b1"]]);
    m.answer(1);
    await rest[1];
    expect(m.calls).toHaveLength(2);
    m.answer(0);
    await a1;
    await eventually(async () => expect(m.calls).toHaveLength(3));
    expect(names(m.calls[2].items)).toEqual(["a2", "a3"]);
    m.answer(2);
    expect(await Promise.all(rest)).toEqual(["a2", "b1", "a3"]);
    await eventually(async () => expect(gc.stats()).toMatchObject({ batches: 3, batchesWithRepeatedKeys: 1, largest: 2 }));
  });

  it("retries a batch that failed transiently, with the same items in the same order", async () => {
    const seen: string[][] = [];
    let failures = 2;
    const gc = new GroupCommit<Item, string>(
      { maxSize: 10, maxWaitMs: 0, maxInFlight: 1, attempts: 3, backoffMs: () => 1 },
      async (items) => {
        seen.push(names(items));
        if (failures-- > 0) throw transient;
        return names(items);
      },
      (x) => x.key,
      isTransient,
    );
    const blocker = gc.submit({ key: "z", n: 0 });
    const answers = [gc.submit({ key: "a", n: 1 }), gc.submit({ key: "b", n: 1 })];
    expect(await blocker).toBe("z0"); // failed twice, then committed
    expect(await Promise.all(answers)).toEqual(["a1", "b1"]);
    expect(seen).toEqual([["z0"], ["z0"], ["z0"], ["a1", "b1"]]);
    expect(gc.stats()).toMatchObject({ retries: 2, failed: 0 });
  });

  it("rejects every item of a batch still failing transiently after its last attempt, and goes on with the next batch", async () => {
    let calls = 0;
    const gc = new GroupCommit<Item, string>(
      { maxSize: 2, maxWaitMs: 0, maxInFlight: 1, attempts: 2, backoffMs: () => 1 },
      async (items) => {
        if (++calls <= 2) throw transient;
        return names(items);
      },
      (x) => x.key,
      isTransient,
    );
    const doomed = [gc.submit({ key: "a", n: 1 })];
    const next = gc.submit({ key: "a", n: 2 });
    for (const d of doomed) await expect(d).rejects.toBe(transient);
    expect(await next).toBe("a2");
    await eventually(async () => expect(gc.stats()).toMatchObject({ retries: 1, failed: 1, batches: 2 }));
  });

  it("re-runs a batch item by item when it fails for another reason, so only the item that breaks it fails", async () => {
    const runs: string[][] = [];
    const broken = new Error("violates check constraint");
    const m = manual();
    const gc = new GroupCommit<Item, string>(
      { maxSize: 10, maxWaitMs: 0, maxInFlight: 1 },
      async (items) => {
        if (items[0].key === "gate") return m.run(items);
        runs.push(names(items));
        if (items.some((x) => x.key === "poison")) throw broken;
        return names(items);
      },
      (x) => x.key,
      isTransient,
    );
    const gate = gc.submit({ key: "gate", n: 0 }); // holds the only slot while the batch under test queues
    const answers = ["a", "poison", "b"].map((key) => gc.submit({ key, n: 1 }).catch((e) => e));
    m.answer(0);
    await gate;
    expect(await Promise.all(answers)).toEqual(["a1", broken, "b1"]);
    expect(runs).toEqual([["a1", "poison1", "b1"], ["a1"], ["poison1"], ["b1"]]);
    expect(gc.stats()).toMatchObject({ split: 1, failed: 1 });
  });

  it("tells its observer what stats() counts, as it happens: each batch's size and its items' waits, retries, failures, splits", async () => {
    const events: string[] = [];
    const waits: number[] = [];
    const observer = {
      started: (n: number, queuedMs: readonly number[]) => (events.push(`started ${n}`), waits.push(...queuedMs)),
      finished: (n: number) => events.push(`finished ${n}`),
      retried: () => events.push("retried"),
      failed: () => events.push("failed"),
      split: () => events.push("split"),
    };
    let transientLeft = 1;
    const m = manual();
    const gc = new GroupCommit<Item, string>(
      { maxSize: 10, maxWaitMs: 0, maxInFlight: 1, attempts: 2, backoffMs: () => 1, observer },
      async (items) => {
        if (items[0].key === "gate") {
          if (transientLeft-- > 0) throw transient;
          return m.run(items);
        }
        if (items.some((x) => x.key === "poison")) throw new Error("violates check constraint");
        return names(items);
      },
      (x) => x.key,
      isTransient,
    );
    const gate = gc.submit({ key: "gate", n: 0 }); // fails once, then holds the only slot while the next batch queues
    const answers = ["a", "poison", "b"].map((key) => gc.submit({ key, n: 1 }).catch(() => "refused"));
    await eventually(async () => expect(m.calls).toHaveLength(1));
    m.answer(0);
    await gate;
    expect(await Promise.all(answers)).toEqual(["a1", "refused", "b1"]);
    await eventually(async () => expect(events).toEqual(["started 1", "retried", "finished 1", "started 3", "split", "failed", "finished 3"]));
    expect(waits).toHaveLength(4);
    for (const w of waits) expect(w).toBeGreaterThanOrEqual(0);
    expect(gc.stats()).toMatchObject({ batches: 2, items: 4, retries: 1, split: 1, failed: 1 });
  });

  it("drain() flushes what is queued at once and resolves when nothing runs", async () => {
    const gc = new GroupCommit<Item, string>({ maxSize: 100, maxWaitMs: 60_000, maxInFlight: 1 }, async (items) => names(items), (x) => x.key, isTransient);
    const a = gc.submit({ key: "a", n: 1 });
    await gc.drain();
    expect(await a).toBe("a1");
    expect(gc.stats()).toMatchObject({ queued: 0, inFlight: 0, batches: 1 });
  });
});

describe("SEND_BATCH_* settings (subgraphs/wallet/config.ts)", () => {
  it("defaults, and refuses values out of range with the setting's name", () => {
    expect(loadSendBatchConfig({})).toEqual(SEND_BATCH_DEFAULTS);
    expect(loadSendBatchConfig({ SEND_BATCH_MAX_SIZE: "1", SEND_BATCH_MAX_WAIT_MS: "0", SEND_BATCH_MAX_IN_FLIGHT: "4" })).toEqual({ maxSize: 1, maxWaitMs: 0, maxInFlight: 4 });
    expect(() => loadSendBatchConfig({ SEND_BATCH_MAX_SIZE: "0" })).toThrow(/SEND_BATCH_MAX_SIZE must be an integer from 1 to 1000/);
    expect(() => loadSendBatchConfig({ SEND_BATCH_MAX_SIZE: "12.5" })).toThrow(/SEND_BATCH_MAX_SIZE/);
    expect(() => loadSendBatchConfig({ SEND_BATCH_MAX_WAIT_MS: "-1" })).toThrow(/SEND_BATCH_MAX_WAIT_MS must be an integer from 0 to 1000/);
    expect(() => loadSendBatchConfig({ SEND_BATCH_MAX_WAIT_MS: "soon" })).toThrow(/SEND_BATCH_MAX_WAIT_MS/);
    expect(() => loadSendBatchConfig({ SEND_BATCH_MAX_IN_FLIGHT: "0" })).toThrow(/SEND_BATCH_MAX_IN_FLIGHT must be an integer from 1 to 64/);
  });
});
