import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PgListener } from "../../platform/pg-listener.js";
import { createTestDatabase, sql } from "../support/db.js";
import { until } from "../support/eventually.js";

let db: Awaited<ReturnType<typeof createTestDatabase>>;
let admin: pg.Client;
beforeAll(async () => {
  db = await createTestDatabase("pglisten");
  admin = await sql(db.url);
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

const connections = async (name: string) =>
  (await admin.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`, [name])).rows[0].n as number;

describe("PgListener: one LISTEN connection that heals itself", () => {
  it("delivers payloads on its channel, reconnects after the server kills it (onLost, then onListening), and holds nothing after stop", async () => {
    const got: string[] = [];
    const events: string[] = [];
    const l = new PgListener({
      databaseUrl: db.url,
      channel: "pgl_test",
      name: "pgl-test",
      onNotify: (p) => got.push(p),
      onListening: () => events.push("listening"),
      onLost: () => events.push("lost"),
    });
    await l.start();
    expect(l.isListening).toBe(true);
    expect(events).toEqual(["listening"]);

    await admin.query(`SELECT pg_notify('pgl_test', 'a'), pg_notify('other_channel', 'x')`);
    await until(() => got.length === 1, "the first notification");
    expect(got).toEqual(["a"]);

    await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pgl-test'`);
    await until(() => events.length === 3, "lost, then listening again");
    expect(events).toEqual(["listening", "lost", "listening"]);
    expect(await connections("pgl-test")).toBe(1);

    await admin.query(`SELECT pg_notify('pgl_test', 'b')`);
    await until(() => got.length === 2, "a notification after the reconnect");
    expect(got).toEqual(["a", "b"]);

    await l.stop();
    expect(l.connections).toBe(0);
    await until(async () => (await connections("pgl-test")) === 0, "the connection to close");
  });

  it("keeps retrying while the database cannot be reached, and stop() ends the retries", async () => {
    const unreachable = (name: string, events: string[]) =>
      new PgListener({
        databaseUrl: "postgres://postgres@127.0.0.1:1/none",
        channel: "pgl_test",
        name,
        onNotify: () => undefined,
        onListening: () => events.push("listening"),
        onLost: () => events.push("lost"),
      });
    const events: string[] = [];
    const l = unreachable("pgl-unreachable", events);
    // A twin on the same backoff schedule that is never stopped: its retries are the clock that
    // says when the stopped one would have retried again.
    const twinEvents: string[] = [];
    const twin = unreachable("pgl-unreachable-twin", twinEvents);
    try {
      await Promise.all([l.start(), twin.start()]); // does not throw: the owner keeps working uncached / polling
      expect(l.isListening).toBe(false);
      await until(() => events.length >= 2, "a retry");
      expect(events.every((e) => e === "lost")).toBe(true);
      await l.stop();
      const seen = events.length;
      await until(() => twinEvents.length >= seen + 2, "two more retries of the twin");
      expect(events.length).toBe(seen);
    } finally {
      await twin.stop();
    }
  });

  it("refuses a channel that is not a plain identifier (it is spliced into LISTEN)", () => {
    expect(() => new PgListener({ databaseUrl: db.url, channel: "x; DROP TABLE y", name: "n", onNotify: () => undefined })).toThrow(/channel/);
  });
});
