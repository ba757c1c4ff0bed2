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
 * Moves a balance and writes its ledger entry, in the caller's transaction, in ONE statement:
 * `wallet.post_entry` (migration 1733400000000), the single-entry ledger writer. sendGift's batches
 * (`wallet.send_gifts`, migration 1733700000000) post their GIFT_SENT entries set-based, by the same
 * rules, one statement per batch (DECISIONS 131). The move is one conditional
 * UPDATE (no read-modify-write): concurrent debits can never overdraw, and the CHECK constraints
 * are the last line of defence. A missing account is created (empty) first.
 */
export async function postEntry(m: EntityManager, e: EntryInput): Promise<PostedEntry> {
  if (!Number.isSafeInteger(e.amount) || !Number.isSafeInteger(e.debtChange ?? 0)) throw new Error("ledger amounts must be integers");
  const [posted]: { entry_id: string | null; balance_after: string | null; debt_after: string | null }[] = await m.query(
    `SELECT entry_id, balance_after, debt_after FROM wallet.post_entry($1, $2, $3, $4, $5)`,
    [e.userId, e.type, e.amount, e.debtChange ?? 0, e.reference ?? null],
  );
  if (!posted || posted.entry_id === null) {
    const [acct] = await m.query(`SELECT coins FROM wallet.accounts WHERE user_id = $1`, [e.userId]);
    const balance = Number(acct?.coins ?? 0);
    throw new DomainError(ErrorCode.INSUFFICIENT_COINS, `not enough coins: ${balance} available, ${-e.amount} needed`, {
      balance,
      shortfall: Math.max(0, -e.amount - balance),
    });
  }
  return { id: String(posted.entry_id), balanceAfter: Number(posted.balance_after), debtAfter: Number(posted.debt_after) };
}
