import type { EntityManager } from "typeorm";
import { DomainError, ErrorCode } from "../../../platform/errors.js";

/** Ledger entry types. Append new ones; the GraphQL enum mirrors this list. */
export enum EntryType {
  RECHARGE = "RECHARGE",
  BONUS = "BONUS",
  GIFT_SENT = "GIFT_SENT",
  REFUND = "REFUND",
  CHARGEBACK = "CHARGEBACK",
  DEBT_REPAID = "DEBT_REPAID",
}

export interface PostedEntry {
  id: string;
  balanceAfter: number;
  debtAfter: number;
}

export interface EntryInput {
  userId: string;
  type: EntryType;
  /** Signed coins: + credit, − debit. */
  amount: number;
  /** Signed change of debt (refunds/chargebacks of spent coins record debt; credits repay it). */
  debtChange?: number;
  /** Order id, gift event id, ... */
  reference?: string;
}

/**
 * Moves a balance and writes its ledger entry, in the caller's transaction.
 * The debit is one conditional UPDATE (no read-modify-write): concurrent debits can
 * never overdraw, and the CHECK constraints are the last line of defence.
 */
export async function postEntry(m: EntityManager, e: EntryInput): Promise<PostedEntry> {
  if (!Number.isSafeInteger(e.amount) || !Number.isSafeInteger(e.debtChange ?? 0)) throw new Error("ledger amounts must be integers");
  await m.query(`INSERT INTO wallet.accounts (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, [e.userId]);
  // Wrapped in a CTE: TypeORM returns [rows, affected] for a bare UPDATE, plain rows for a SELECT.
  const rows: { coins: string; debt: string }[] = await m.query(
    `WITH moved AS (
       UPDATE wallet.accounts SET coins = coins + $2, debt = debt + $3, updated_at = now()
        WHERE user_id = $1 AND coins + $2 >= 0 AND debt + $3 >= 0
        RETURNING coins, debt)
     SELECT coins, debt FROM moved`,
    [e.userId, e.amount, e.debtChange ?? 0],
  );
  if (rows.length === 0) {
    const [acct] = await m.query(`SELECT coins FROM wallet.accounts WHERE user_id = $1`, [e.userId]);
    const balance = Number(acct?.coins ?? 0);
    throw new DomainError(ErrorCode.INSUFFICIENT_COINS, `not enough coins: ${balance} available, ${-e.amount} needed`, {
      balance,
      shortfall: Math.max(0, -e.amount - balance),
    });
  }
  const balanceAfter = Number(rows[0].coins);
  const debtAfter = Number(rows[0].debt);
  const [entry] = await m.query(
    `INSERT INTO wallet.ledger_entries (user_id, type, amount, balance_after, debt_change, debt_after, reference)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
    [e.userId, e.type, e.amount, balanceAfter, e.debtChange ?? 0, debtAfter, e.reference ?? null],
  );
  return { id: String(entry.id), balanceAfter, debtAfter };
}
