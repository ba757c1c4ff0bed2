import type { EntityManager } from "typeorm";
import { transitionFor, type OrderEvent, type OrderWrite, type Transition } from "./transitions.js";
import type { Source } from "./types.js";

/**
 * Runs the transition table (transitions.ts) against the database: the order's row lock, the
 * table lookup, one fixed UPDATE per kind of write and the audit row. Effects (ledger entries)
 * are the caller's next step, in the same transaction (settle.ts).
 */

/** Events the machine applies itself; `refunds_completed` is booked by refunds.ts in its own statement. */
export type MachineEvent = Exclude<OrderEvent, "refunds_completed">;
export type MachineWrite = Exclude<OrderWrite, "refund_totals">;

/** Values some writes need (the rest is `now()` or NULL in the statement). */
export interface WriteArgs {
  /** failure: the code clients see (publicFailureCode) and the provider's own. */
  failureCode?: string;
  providerFailureCode?: string;
  /** next_action: the provider's challenge as JSON text (`null` when it sent none). */
  nextActionJson?: string;
  /** reversal: why (shown to admins). */
  reason?: string;
}

// One statement per kind of write, `now()` spelled out. Wrapped in a CTE: TypeORM returns
// [rows, count] for a bare UPDATE, rows for a SELECT. $1 is the order id, $2 the new status.
export const UPDATES: Readonly<Record<MachineWrite, { sql: string; params: (a: WriteArgs) => unknown[] }>> = {
  completion: {
    sql: `WITH u AS (UPDATE wallet.recharge_orders SET status = $2, updated_at = now(), completed_at = now(), next_action = NULL
                      WHERE id = $1 RETURNING *) SELECT * FROM u`,
    params: () => [],
  },
  failure: {
    sql: `WITH u AS (UPDATE wallet.recharge_orders SET status = $2, updated_at = now(), completed_at = now(), next_action = NULL,
                            failure_code = $3, provider_failure_code = $4
                      WHERE id = $1 RETURNING *) SELECT * FROM u`,
    params: (a) => [required(a.failureCode, "failureCode"), required(a.providerFailureCode, "providerFailureCode")],
  },
  next_action: {
    sql: `WITH u AS (UPDATE wallet.recharge_orders SET status = $2, updated_at = now(), next_action = $3
                      WHERE id = $1 RETURNING *) SELECT * FROM u`,
    params: (a) => [required(a.nextActionJson, "nextActionJson")],
  },
  status: {
    sql: `WITH u AS (UPDATE wallet.recharge_orders SET status = $2, updated_at = now()
                      WHERE id = $1 RETURNING *) SELECT * FROM u`,
    params: () => [],
  },
  reversal: {
    sql: `WITH u AS (UPDATE wallet.recharge_orders SET status = $2, updated_at = now(), reversed_at = now(), reversal_reason = $3
                      WHERE id = $1 RETURNING *) SELECT * FROM u`,
    params: (a) => [required(a.reason, "reason")],
  },
};

function required<T>(v: T | undefined, name: string): T {
  if (v === undefined) throw new Error(`recharge transition: ${name} is required`);
  return v;
}

/** The transition taken and the order row as it is after it (snake_case columns, as stored). */
export interface Fired {
  transition: Transition;
  row: any;
}

/**
 * Applies `on` to the order if the table has a transition for its current status. Returns null
 * when it has none (someone else got there first, or the event does not apply): nothing changes.
 */
export async function fire(m: EntityManager, orderId: string, on: MachineEvent, source: Source, args: WriteArgs = {}): Promise<Fired | null> {
  // Lock the order row first: the status read below is the latest committed one and cannot change under us.
  const [cur] = await m.query(`SELECT status FROM wallet.recharge_orders WHERE id = $1 FOR UPDATE`, [orderId]);
  const transition = cur ? transitionFor(cur.status, on) : null;
  if (!transition) return null;
  const write = UPDATES[transition.writes as MachineWrite];
  if (!write) throw new Error(`recharge transition ${transition.from} × ${on}: ${transition.writes} is not written here`);
  const [row] = await m.query(write.sql, [orderId, transition.to, ...write.params(args)]);
  await recordEvent(m, orderId, transition.from, transition.to, source, null);
  return { transition, row };
}

/** The audit trail: every status change and what caused it (wallet.recharge_order_events). */
export async function recordEvent(m: EntityManager, orderId: string, from: string | null, to: string, source: Source, detail: unknown): Promise<void> {
  await m.query(`INSERT INTO wallet.recharge_order_events (order_id, from_status, to_status, source, detail) VALUES ($1, $2, $3, $4, $5)`, [
    orderId,
    from,
    to,
    source,
    detail === null ? null : JSON.stringify(detail),
  ]);
}
