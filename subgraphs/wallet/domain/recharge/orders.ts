import type { DataSource } from "typeorm";
import { badInput } from "../../../../platform/errors.js";
import { statusesMatching, type OrderStatus } from "./transitions.js";
import type { OrderView } from "./types.js";

/** Reads of recharge orders (the owner's and admins' views; the DataLoader behind WalletTransaction.rechargeOrder). */

const ORDER_SELECT = `SELECT o.*, r.locale, to_char(o.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_text
  FROM wallet.recharge_orders o JOIN wallet.regions r ON r.region = o.region`;

export const MAX_ORDERS_PAGE = 100;
const DEFAULT_ORDERS_PAGE = 20;

export function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

export async function readOrder(ds: DataSource, id: string): Promise<OrderView | null> {
  if (!isUuid(id)) return null;
  const rows = await ds.query(`${ORDER_SELECT} WHERE o.id = $1`, [id]);
  return rows[0] ? toOrder(rows[0]) : null;
}

/** Many orders in one query; null for unknown ids. */
export async function readOrders(ds: DataSource, ids: readonly string[]): Promise<(OrderView | null)[]> {
  const valid = [...new Set(ids.filter(isUuid))];
  const rows = valid.length ? await ds.query(`${ORDER_SELECT} WHERE o.id = ANY($1::uuid[])`, [valid]) : [];
  const byId = new Map<string, OrderView>(rows.map((r: any) => [r.id, toOrder(r)]));
  return ids.map((id) => byId.get(id) ?? null);
}

export interface OrderPage {
  orders: OrderView[];
  cursors: string[];
  hasNextPage: boolean;
}

/** The user's orders, newest first; keyset pagination on (created_at, id). */
export async function listOrders(ds: DataSource, userId: string, opts: { first?: number | null; after?: string | null; status?: OrderStatus | null }): Promise<OrderPage> {
  const first = opts.first ?? DEFAULT_ORDERS_PAGE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_ORDERS_PAGE) throw badInput(`first must be between 1 and ${MAX_ORDERS_PAGE}`, ["first"]);
  const after = opts.after ? decodeCursor(opts.after) : null;
  // PROCESSING is shown as PENDING, so a PENDING filter includes it.
  const statuses = opts.status ? statusesMatching(opts.status) : null;
  const rows = await ds.query(
    `${ORDER_SELECT} WHERE o.user_id = $1 AND ($2::timestamptz IS NULL OR (o.created_at, o.id) < ($2::timestamptz, $3::uuid))
       AND ($4::text[] IS NULL OR o.status = ANY($4::text[]))
     ORDER BY o.created_at DESC, o.id DESC LIMIT $5`,
    [userId, after?.at ?? null, after?.id ?? null, statuses, first + 1],
  );
  const page = rows.slice(0, first);
  // Microsecond precision matters for the keyset: read it back from PostgreSQL, not from a JS Date.
  return { orders: page.map(toOrder), cursors: page.map((r: any) => encodeCursor(r.created_at_text, r.id)), hasNextPage: rows.length > first };
}

function encodeCursor(createdAtText: string, id: string): string {
  return Buffer.from(`ro:${createdAtText}|${id}`).toString("base64url");
}

function decodeCursor(cursor: string): { at: string; id: string } {
  const m = /^ro:(\d{4}-\d\d-\d\dT[\d:.]+Z)\|([0-9a-f-]{36})$/.exec(Buffer.from(cursor, "base64url").toString("utf8"));
  if (!m || !isUuid(m[2]) || Number.isNaN(Date.parse(m[1]))) throw badInput("after is not a valid cursor", ["after"]);
  return { at: m[1], id: m[2] };
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

function toOrder(r: any): OrderView {
  return {
    id: r.id,
    userId: r.user_id,
    status: r.status,
    packageId: r.package_id,
    region: r.region,
    coins: Number(r.coins),
    bonusCoins: Number(r.bonus_coins),
    amountMinor: Number(r.amount_minor),
    currency: r.currency.trim(),
    locale: r.locale,
    paymentMethodType: r.payment_method_type,
    failureCode: r.failure_code,
    nextAction: r.next_action ?? null,
    coinsReversed: r.coins_reversed === null ? null : Number(r.coins_reversed),
    debtRecorded: r.debt_recorded === null ? null : Number(r.debt_recorded),
    reversalReason: r.reversal_reason,
    refundedMinor: Number(r.refunded_minor ?? 0),
    createdAt: iso(r.created_at)!,
    updatedAt: iso(r.updated_at)!,
    completedAt: iso(r.completed_at),
    reversedAt: iso(r.reversed_at),
  };
}
