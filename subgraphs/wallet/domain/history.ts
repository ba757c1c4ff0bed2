import type { DataSource } from "typeorm";
import { badInput } from "../../../platform/errors.js";
import { EntryType } from "./ledger.js";

export interface TransactionView {
  id: string;
  type: EntryType;
  amount: number;
  balanceAfter: number;
  debtChange: number;
  debtAfter: number;
  reference: string | null;
  createdAt: string;
}

export interface TransactionPage {
  edges: { cursor: string; node: TransactionView }[];
  hasNextPage: boolean;
  endCursor: string | null;
}

export const MAX_PAGE = 100;
export const DEFAULT_PAGE = 20;

/** Opaque cursors: clients must not build them; only the entry id inside matters. */
export const encodeCursor = (id: string) => Buffer.from(`le:${id}`).toString("base64url");
export function decodeCursor(cursor: string): string {
  const raw = Buffer.from(cursor, "base64url").toString("utf8");
  const m = /^le:(\d{1,19})$/.exec(raw);
  if (!m) throw badInput("after is not a valid cursor", ["after"]);
  return m[1];
}

/** A user's ledger, newest first (Relay-style forward pagination on the entry id, which only grows). */
export class HistoryService {
  constructor(private readonly dataSource: DataSource) {}

  async page(userId: string, opts: { first?: number | null; after?: string | null; type?: EntryType | null }): Promise<TransactionPage> {
    const first = opts.first ?? DEFAULT_PAGE;
    if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE) throw badInput(`first must be between 1 and ${MAX_PAGE}`, ["first"]);
    const before = opts.after ? decodeCursor(opts.after) : null;
    const rows = await this.dataSource.query(
      `SELECT id, type, amount, balance_after, debt_change, debt_after, reference, created_at
         FROM wallet.ledger_entries
        WHERE user_id = $1 AND ($2::bigint IS NULL OR id < $2::bigint) AND ($3::text IS NULL OR type = $3)
        ORDER BY id DESC LIMIT $4`,
      [userId, before, opts.type ?? null, first + 1],
    );
    const nodes: TransactionView[] = rows.slice(0, first).map((r: any) => ({
      id: String(r.id),
      type: r.type,
      amount: Number(r.amount),
      balanceAfter: Number(r.balance_after),
      debtChange: Number(r.debt_change),
      debtAfter: Number(r.debt_after),
      reference: r.reference,
      createdAt: new Date(r.created_at).toISOString(),
    }));
    const edges = nodes.map((node) => ({ cursor: encodeCursor(node.id), node }));
    return { edges, hasNextPage: rows.length > first, endCursor: edges.length ? edges[edges.length - 1].cursor : null };
  }
}
