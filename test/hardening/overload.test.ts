import net from "node:net";
import pg from "pg";
import { QueryFailedError } from "typeorm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatError } from "../../platform/http.js";
import { isTransientDatabaseError } from "../../platform/db.js";
import { sql } from "../support/db.js";
import { until } from "../support/eventually.js";
import { startStack, type Stack } from "../support/stack.js";
import { RECHARGE, expectLedgerConsistent, rechargeInput, tokenFor, uniqueUser, walletOf } from "../wallet/support.js";

// A request waits this long for a free database connection before it is refused (default 5 s).
process.env.DB_CONNECT_TIMEOUT_MS = "300";

let stack: Stack;
/** A connection of the test's own, to watch pg_stat_activity. */
let observer: pg.Client;
beforeAll(async () => {
  stack = await startStack("overload");
  observer = await sql(stack.databaseUrl);
});
afterAll(async () => {
  await observer?.end();
  await stack?.stop();
});

/** Sessions of this database running `SELECT pg_sleep(…)` now (`pid`: that one session only). */
async function sleeping(pid?: number): Promise<number> {
  const { rows } = await observer.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE 'SELECT pg\\_sleep(%' AND ($1::int IS NULL OR pid = $1)`,
    [pid ?? null],
  );
  return rows[0].n;
}

/** Keeps every connection of the wallet's pool busy until the returned promise settles; resolves once all are. */
async function occupyWalletPool(seconds: number): Promise<{ busy: Promise<unknown> }> {
  const ds = stack.subgraphs.wallet.dataSource;
  const size = (ds.driver as unknown as { master: { options: { max: number } } }).master.options.max;
  const busy = Promise.all(Array.from({ length: size }, () => ds.query(`SELECT pg_sleep(${seconds})`)));
  await until(async () => (await sleeping()) >= size, `all ${size} wallet connections in pg_sleep`, 10_000);
  return { busy };
}

describe("a database that cannot serve a request now answers SERVICE_UNAVAILABLE, never an internal error", () => {
  it("an exhausted connection pool refuses a recharge with SERVICE_UNAVAILABLE; the same key then succeeds, credited once", async () => {
    const user = uniqueUser("overload");
    const jwt = await tokenFor(user);
    const input = rechargeInput({ packageId: "pkg_US_70", key: "overload-1" });
    const { busy } = await occupyWalletPool(1.5);

    const refused = await stack.gql(RECHARGE, { input }, jwt);
    expect(refused.status).toBe(200);
    expect(refused.errors?.[0]?.extensions?.code).toBe("SERVICE_UNAVAILABLE");
    expect(refused.errors?.[0]?.message).toMatch(/retry/);
    expect(JSON.stringify(refused.errors)).not.toMatch(/timeout exceeded|pg_sleep|stack/i);

    await busy;
    const retried = await stack.gql(RECHARGE, { input }, jwt);
    expect(retried.errors).toBeUndefined();
    expect(retried.data.recharge.order.status).toBe("SUCCEEDED");
    const again = await stack.gql(RECHARGE, { input }, jwt);
    expect(again.data.recharge.order.id).toBe(retried.data.recharge.order.id);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
    await expectLedgerConsistent(stack, user);
  });

  it("a read while the pool is exhausted is SERVICE_UNAVAILABLE too, and works again once connections free up", async () => {
    const jwt = await tokenFor(uniqueUser("overload"));
    const { busy } = await occupyWalletPool(1);
    const refused = await stack.gql(`{ me { wallet { coins } } }`, {}, jwt);
    expect(refused.errors?.map((e) => e.extensions?.code)).toContain("SERVICE_UNAVAILABLE");
    await busy;
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
  });

  it("a payment the provider already approved is applied even when applying it first hits a transient database failure: SUCCEEDED in the same call, credited once", async () => {
    const user = uniqueUser("applyretry");
    const jwt = await tokenFor(user);
    const ds = stack.subgraphs.wallet.dataSource;
    // A real rolled-back transaction: the first SUCCEEDED update of this user's order fails with
    // serialization_failure (a sequence, because it does not roll back with the failure).
    await ds.query(`CREATE SEQUENCE public.apply_fail_once`);
    await ds.query(`CREATE FUNCTION public.apply_fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.user_id = '${user}' AND NEW.status = 'SUCCEEDED' THEN
          IF nextval('public.apply_fail_once') = 1 THEN
            RAISE EXCEPTION 'could not serialize access (test)' USING ERRCODE = '40001';
          END IF;
        END IF;
        RETURN NEW;
      END $$`);
    await ds.query(`CREATE TRIGGER apply_fail_once BEFORE UPDATE ON wallet.recharge_orders FOR EACH ROW EXECUTE FUNCTION public.apply_fail_once()`);
    try {
      const res = await stack.gql(RECHARGE, { input: rechargeInput({ packageId: "pkg_US_350", key: "apply-retry" }) }, jwt);
      expect(res.errors).toBeUndefined();
      expect(res.data.recharge.order.status).toBe("SUCCEEDED");
      const [{ n }] = await ds.query(`SELECT nextval('public.apply_fail_once')::int AS n`);
      expect(n).toBe(3); // two attempts reached the SUCCEEDED update: the first failed, the second went through
      expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
      await expectLedgerConsistent(stack, user);
    } finally {
      await ds.query(`DROP TRIGGER apply_fail_once ON wallet.recharge_orders`);
      await ds.query(`DROP FUNCTION public.apply_fail_once()`);
      await ds.query(`DROP SEQUENCE public.apply_fail_once`);
    }
  });

  it("a connection reset under the client (ECONNRESET, as a backend killed mid-query sometimes shows) is classified as transient", async () => {
    // A real socket reset: a listener that resets every connection it accepts.
    const resetter = net.createServer((socket) => socket.resetAndDestroy());
    await new Promise<void>((resolve) => resetter.listen(0, "127.0.0.1", resolve));
    try {
      const client = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${(resetter.address() as net.AddressInfo).port}/postgres` });
      const err = await client.connect().then(
        () => null,
        (e: unknown) => e,
      );
      expect((err as { code?: string }).code).toBe("ECONNRESET");
      expect(isTransientDatabaseError(err)).toBe(true);
      expect(isTransientDatabaseError(new QueryFailedError("SELECT 1", [], err as Error))).toBe(true); // as TypeORM wraps it
      expect(formatError({ message: String(err), extensions: { code: "INTERNAL_SERVER_ERROR" } }, err).extensions?.code).toBe("SERVICE_UNAVAILABLE");
    } finally {
      await new Promise((resolve) => resetter.close(resolve));
    }
  });

  it("a connection terminated by the server (pg_terminate_backend) is classified as transient, a syntax error is not", async () => {
    const victim = await sql(stack.databaseUrl);
    const killer = await sql(stack.databaseUrl);
    victim.on("error", () => undefined);
    try {
      const [{ pid }] = (await victim.query(`SELECT pg_backend_pid() AS pid`)).rows;
      const running = victim.query(`SELECT pg_sleep(5)`).then(
        () => null,
        (e: unknown) => e,
      );
      await until(async () => (await sleeping(pid)) === 1, "the victim's query to be running");
      await killer.query(`SELECT pg_terminate_backend($1)`, [pid]);
      const err = await running;
      expect(isTransientDatabaseError(err)).toBe(true);
      expect(formatError({ message: String(err), extensions: { code: "INTERNAL_SERVER_ERROR" } }, err).extensions?.code).toBe("SERVICE_UNAVAILABLE");

      const syntax = await killer.query(`SELEC 1`).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isTransientDatabaseError(syntax)).toBe(false);
      expect(formatError({ message: String(syntax), extensions: { code: "INTERNAL_SERVER_ERROR" } }, syntax).extensions?.code).toBe("INTERNAL_SERVER_ERROR");
    } finally {
      await killer.end();
      await victim.end().catch(() => undefined);
    }
  });
});
