import "reflect-metadata";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { DataSource, type EntityManager } from "typeorm";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { appendEvent, ensureEventLog } from "../../platform/eventlog.js";
import type { EventLog, EventLogConsumer } from "../../platform/eventlog/types.js";
import { createTestDatabase } from "./db.js";
import { eventually } from "./eventually.js";

/**
 * THE event-log contract, one body for every transport (PostgreSQL: test/earnings/eventlog-contract.test.ts
 * under `npm test`; NATS JetStream: test/nats/eventlog-contract.test.ts under `npm run test:nats`).
 */
export interface ContractTransport {
  name: string;
  /** One "process": its own EventLog (for NATS its own connection). */
  open(): EventLog;
  /** Work the transport needs besides the consumers (NATS: the outbox relay, on its own connection) for these types. */
  background(ds: DataSource, types: Record<string, number>): Promise<{ stop(): Promise<void>; idle(): Promise<boolean> }>;
  /** The process dies: its broker connection goes without a goodbye. */
  crash(log: EventLog): Promise<void>;
  /** Removes what a run left on the broker. */
  cleanup?(): Promise<void>;
}

interface Instance {
  ds: DataSource;
  log: EventLog;
  consumer: EventLogConsumer;
  hooks: { beforeCommit?: (m: EntityManager) => Promise<void> };
  /** The size of each batch handed to the handler, in order (failed ones included). */
  batches: number[];
}

const PARTITIONS = 8;

export function eventLogContract(t: ContractTransport): void {
  describe(`the event log over ${t.name}`, () => {
    let db: Awaited<ReturnType<typeof createTestDatabase>>;
    let ds: DataSource;
    const instances: Instance[] = [];
    const backgrounds: { stop(): Promise<void>; idle(): Promise<boolean> }[] = [];

    beforeAll(async () => {
      db = await createTestDatabase(`evlog${t.name}`);
      ds = await source(db.url);
      await ensureEventLog(ds);
      await ds.query(`CREATE SCHEMA IF NOT EXISTS contract`);
      await ds.query(`CREATE TABLE IF NOT EXISTS contract.handled (seq bigserial PRIMARY KEY, consumer text NOT NULL, instance text NOT NULL, event_id uuid NOT NULL, key text NOT NULL, n int NOT NULL)`);
    });
    // Each test's instances and relay go with it: the next test's must not relay or consume for it.
    afterEach(async () => {
      for (const i of instances.splice(0)) {
        await i.consumer.stop().catch(() => undefined);
        await i.log.close().catch(() => undefined);
        if (i.ds.isInitialized) await i.ds.destroy().catch(() => undefined);
      }
      for (const b of backgrounds.splice(0)) await b.stop().catch(() => undefined);
    });
    afterAll(async () => {
      await t.cleanup?.();
      if (ds?.isInitialized) await ds.destroy();
      await db?.drop();
    });

    const source = async (url: string) => {
      const s = new DataSource({ type: "postgres", url, poolSize: 4, entities: [] });
      await s.initialize();
      return s;
    };

    /** A world per test: its own event type (so its own subjects) and consumer name. */
    const world = () => {
      const tag = randomUUID().slice(0, 8);
      return { type: `contract.e${tag}`, name: `contract-${tag}` };
    };

    async function instance(w: { type: string; name: string }, start = true, lingerMs = 0): Promise<Instance> {
      const own = await source(db.url);
      const log = t.open();
      const hooks: Instance["hooks"] = {};
      const batches: number[] = [];
      const consumer = log.consumer<{ n: number }>(own, {
        name: w.name,
        schema: "contract",
        types: [w.type],
        partitions: PARTITIONS,
        batchSize: 25,
        idleMs: 50,
        lingerMs,
        handle: async (m, events) => {
          batches.push(events.length);
          await m.query(
            `INSERT INTO contract.handled (consumer, instance, event_id, key, n) SELECT $1, $2, e, k, n FROM unnest($3::uuid[], $4::text[], $5::int[]) AS x(e, k, n)`,
            [w.name, consumer.instanceId, events.map((e) => e.id), events.map((e) => e.key), events.map((e) => e.payload.n)],
          );
          await hooks.beforeCommit?.(m);
        },
      });
      const i = { ds: own, log, consumer, hooks, batches };
      instances.push(i);
      if (start) await consumer.start();
      return i;
    }

    async function background(w: { type: string }) {
      const b = await t.background(ds, { [w.type]: PARTITIONS });
      backgrounds.push(b);
      return b;
    }

    /** Appends `perKey` events for each key, interleaved across keys, in transactions of `tx` events. */
    async function append(type: string, keys: string[], perKey: number, tx = 20): Promise<{ id: string; key: string; n: number }[]> {
      const all = Array.from({ length: perKey }, (_, n) => keys.map((key) => ({ id: randomUUID(), key, n: n + 1 }))).flat();
      for (let i = 0; i < all.length; i += tx) {
        await ds.transaction(async (m) => {
          for (const e of all.slice(i, i + tx)) await appendEvent(m, { id: e.id, type, key: e.key, payload: { n: e.n } });
        });
      }
      return all;
    }

    async function handled(name: string): Promise<{ event_id: string; key: string; n: number; instance: string }[]> {
      return ds.query(`SELECT event_id::text, key, n, instance FROM contract.handled WHERE consumer = $1 ORDER BY seq`, [name]);
    }

    /** Every event handled once, each key's events in append order; waits until the transport has nothing in flight. */
    async function expectExactlyOnce(name: string, appended: { id: string; key: string; n: number }[], live: Instance[]): Promise<void> {
      await eventually(async () => expect((await handled(name)).length).toBeGreaterThanOrEqual(appended.length), 60_000);
      await eventually(async () => {
        for (const b of backgrounds) expect(await b.idle()).toBe(true);
        for (const i of live) expect((await i.consumer.lag()).pendingEvents).toBe(0);
      }, 30_000);
      const rows = await handled(name);
      const counts = new Map<string, number>();
      for (const r of rows) counts.set(r.event_id, (counts.get(r.event_id) ?? 0) + 1);
      expect(rows.length).toBe(appended.length);
      expect([...counts.values()].every((c) => c === 1)).toBe(true);
      expect(new Set(counts.keys())).toEqual(new Set(appended.map((e) => e.id)));
      const keys = [...new Set(appended.map((e) => e.key))];
      for (const key of keys) {
        expect({ key, order: rows.filter((r) => r.key === key).map((r) => r.n) }).toEqual({ key, order: appended.filter((e) => e.key === key).map((e) => e.n) });
      }
    }

    it("hands every appended event to the handler exactly once, each key's events in the order they were appended", async () => {
      const w = world();
      const one = await instance(w);
      await background(w);
      const appended = await append(w.type, Array.from({ length: 12 }, (_, i) => `k${i}`), 15);
      await expectExactlyOnce(w.name, appended, [one]);
    });

    it("rolls back a batch whose handler throws and hands the same events again (nothing lost, nothing doubled)", async () => {
      const w = world();
      const one = await instance(w);
      await background(w);
      let failures = 0;
      one.hooks.beforeCommit = async () => {
        if (failures++ < 3) throw new Error("handler failed");
      };
      const appended = await append(w.type, ["a", "b", "c"], 10);
      await expectExactlyOnce(w.name, appended, [one]);
      expect(failures).toBeGreaterThan(3);
    });

    it("with lingerMs, waits after a batch that was not full: the events appended meanwhile are handed over as one batch", async () => {
      const w = world();
      const one = await instance(w, true, 2_000);
      await background(w);
      const first = await append(w.type, ["linger"], 1);
      await eventually(async () => expect(one.batches).toEqual([1]), 30_000);
      // Three transactions while it lingers: one batch of three, not three batches.
      const later = [...(await append(w.type, ["linger"], 1)), ...(await append(w.type, ["linger"], 1)), ...(await append(w.type, ["linger"], 1))];
      await expectExactlyOnce(w.name, [...first, ...later], [one]);
      expect(one.batches).toEqual([1, 3]);
    });

    it("stops at once while it lingers (stop() cuts the linger short)", async () => {
      const w = world();
      // A linger far beyond the test's timeout: stop() can only return in time if no linger is waited out.
      const lingering = await instance(w, true, 600_000);
      await background(w);
      await append(w.type, ["stop"], 1);
      await eventually(async () => expect((await handled(w.name)).length).toBe(1), 30_000);
      await expect(lingering.consumer.stop()).resolves.toBeUndefined();
    });

    it("stopped while a batch is in the handler, finishes that batch and does not linger after it", async () => {
      const w = world();
      const busy = await instance(w, true, 600_000);
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      busy.hooks.beforeCommit = () => held;
      await background(w);
      await append(w.type, ["stop"], 1);
      await eventually(async () => expect(busy.batches).toEqual([1]), 30_000);
      const stopped = busy.consumer.stop();
      release();
      await expect(stopped).resolves.toBeUndefined();
    });

    it("shares the partitions between instances: each partition held by exactly one, about partitions ÷ instances each", async () => {
      const w = world();
      const three = [await instance(w), await instance(w), await instance(w)];
      await background(w);
      const union = () => three.flatMap((i) => i.consumer.claimed).sort((a, b) => a - b);
      await eventually(async () => {
        expect(union()).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p));
        for (const i of three) expect(i.consumer.claimed.length).toBeLessThanOrEqual(Math.ceil(PARTITIONS / 3));
      }, 15_000);
      const appended = await append(w.type, Array.from({ length: 24 }, (_, i) => `s${i}`), 6);
      await expectExactlyOnce(w.name, appended, three);
      // The work really was shared.
      expect(new Set((await handled(w.name)).map((r) => r.instance)).size).toBeGreaterThan(1);
    });

    it("loses nothing and doubles nothing when a consumer is killed mid-batch; the survivors take its partitions", async () => {
      const w = world();
      const [a, b, victim] = [await instance(w), await instance(w), await instance(w)];
      await background(w);
      await eventually(async () => expect(victim.consumer.claimed.length).toBeGreaterThan(0), 15_000);
      const admin = new pg.Client({ connectionString: db.url });
      await admin.connect();
      let killed = false;
      victim.hooks.beforeCommit = async (m) => {
        if (killed) return;
        killed = true;
        // The victim has written a whole batch and dies before COMMIT: database sessions and broker connection go at once.
        const [{ pid }] = await m.query(`SELECT pg_backend_pid() AS pid`);
        await t.crash(victim.log);
        await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE '%' || $1 OR pid = $2`, [victim.consumer.instanceId, pid]);
        void victim.consumer.stop();
      };
      const appended = await append(w.type, Array.from({ length: 24 }, (_, i) => `v${i}`), 10);
      await eventually(async () => expect(killed).toBe(true), 30_000);
      await eventually(async () => expect([...a.consumer.claimed, ...b.consumer.claimed].sort((x, y) => x - y)).toEqual(Array.from({ length: PARTITIONS }, (_, p) => p)), 15_000);
      await expectExactlyOnce(w.name, appended, [a, b]);
      await admin.end();
    });
  });
}
