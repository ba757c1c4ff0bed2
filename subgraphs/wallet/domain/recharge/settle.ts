import type { EntityManager } from "typeorm";
import { retryTransient } from "../../../../platform/db.js";
import { EntryType, postEntry } from "../ledger.js";
import { publicFailureCode, type ProviderPayment } from "../payments/provider.js";
import { fire, type Fired, type MachineEvent, type WriteArgs } from "./machine.js";
import { PAYMENT_EVENTS, type Effect } from "./transitions.js";
import type { RechargeCore, Source } from "./types.js";

/**
 * Settling an order: an event through the machine, then the transition's effects (ledger
 * entries) in the same transaction. Lock order everywhere: the order row, then the account row.
 */

/** The account row locked before a reversal (its balance decides what can be taken back). */
interface LockedAccount {
  userId: string;
  coins: number;
}

/** Applies `on` and its effects. Returns false when the order was not in a state the event applies to. */
export async function settle(m: EntityManager, orderId: string, on: MachineEvent, source: Source, args: WriteArgs = {}, account: LockedAccount | null = null): Promise<boolean> {
  const fired = await fire(m, orderId, on, source, args);
  if (!fired) return false;
  for (const effect of fired.transition.effects) await runEffect(m, orderId, fired, effect, account);
  return true;
}

/** The one way coins are credited. False when the order was not open (already credited or failed). */
export function succeed(m: EntityManager, orderId: string, source: Source): Promise<boolean> {
  return settle(m, orderId, "succeeded", source);
}

export function fail(m: EntityManager, orderId: string, providerCode: string, source: Source): Promise<boolean> {
  return settle(m, orderId, "failed", source, { failureCode: publicFailureCode(providerCode), providerFailureCode: providerCode });
}

/**
 * Takes back the order's coins (bonus included) that are still unspent; the rest becomes debt.
 * Exactly once: only from SUCCEEDED. The account row is locked first, so a concurrent gift
 * cannot spend between reading the balance and the debit.
 */
export async function reverse(m: EntityManager, orderId: string, on: "refunded" | "charged_back", reason: string, source: Source): Promise<boolean> {
  const account = await lockAccountOfOrder(m, orderId);
  if (!account) return false;
  return settle(m, orderId, on, source, { reason }, account);
}

async function lockAccountOfOrder(m: EntityManager, orderId: string): Promise<LockedAccount | null> {
  const [o] = await m.query(`SELECT user_id FROM wallet.recharge_orders WHERE id = $1 FOR UPDATE`, [orderId]);
  if (!o) return null;
  await m.query(`INSERT INTO wallet.accounts (user_id) VALUES ($1) ON CONFLICT DO NOTHING`, [o.user_id]);
  const [acct] = await m.query(`SELECT coins FROM wallet.accounts WHERE user_id = $1 FOR UPDATE`, [o.user_id]);
  return { userId: o.user_id, coins: Number(acct.coins) };
}

/** `orderId` as the caller gave it is the ledger entries' reference. */
function runEffect(m: EntityManager, orderId: string, fired: Fired, effect: Effect, account: LockedAccount | null): Promise<void> {
  switch (effect.kind) {
    case "credit_coins":
      return creditCoins(m, orderId, fired.row);
    case "take_back_coins":
      if (!account) throw new Error("take_back_coins needs the account row locked first (reverse())");
      return takeBackCoins(m, orderId, fired.row, effect, account);
  }
}

/** RECHARGE and BONUS entries; new coins repay debt first (from an earlier refund/chargeback): sending stays blocked until it is cleared. */
async function creditCoins(m: EntityManager, orderId: string, row: any): Promise<void> {
  const coins = Number(row.coins);
  const bonus = Number(row.bonus_coins);
  let posted = await postEntry(m, { userId: row.user_id, type: EntryType.RECHARGE, amount: coins, reference: orderId });
  if (bonus > 0) posted = await postEntry(m, { userId: row.user_id, type: EntryType.BONUS, amount: bonus, reference: orderId });
  if (posted.debtAfter > 0) {
    const repay = Math.min(posted.debtAfter, posted.balanceAfter);
    if (repay > 0) await postEntry(m, { userId: row.user_id, type: EntryType.DEBT_REPAID, amount: -repay, debtChange: -repay, reference: orderId });
  }
}

/** What partial refunds already took back stays taken back: this reversal takes the rest (refunds.ts). */
async function takeBackCoins(m: EntityManager, orderId: string, row: any, effect: Extract<Effect, { kind: "take_back_coins" }>, account: LockedAccount): Promise<void> {
  const total = Number(row.coins) + Number(row.bonus_coins) - Number(row.refunded_coins);
  const taken = Math.min(total, account.coins);
  const debt = total - taken;
  if (total > 0) await postEntry(m, { userId: row.user_id, type: EntryType[effect.entry], amount: -taken, debtChange: debt, reference: orderId });
  await m.query(
    `UPDATE wallet.recharge_orders SET coins_reversed = coalesce(coins_reversed, 0) + $2, debt_recorded = coalesce(debt_recorded, 0) + $3,
            refunded_coins = coins + bonus_coins, refund_reserved_minor = amount_minor,
            refunded_minor = CASE WHEN $4 THEN amount_minor ELSE refunded_minor END WHERE id = $1`,
    [orderId, taken, debt, effect.moneyRefunded],
  );
}

/**
 * Applies the provider's view of a payment to the order (any source). The provider has already
 * answered, so a dropped connection or a rolled-back transaction is retried here rather than
 * leaving the order PROCESSING until it is stale; every transition is guarded by the order's
 * status, so applying twice changes nothing. Wakes this process's waiters afterwards.
 */
export async function applyPayment(core: RechargeCore, orderId: string, p: ProviderPayment, source: Source): Promise<void> {
  await retryTransient(() => core.dataSource.transaction((m) => applyPaymentIn(m, orderId, p, source)));
  core.inFlight.settled(orderId);
}

async function applyPaymentIn(m: EntityManager, orderId: string, p: ProviderPayment, source: Source): Promise<void> {
  await m.query(`UPDATE wallet.recharge_orders SET provider_payment_id = $2 WHERE id = $1 AND provider_payment_id IS NULL`, [orderId, p.id]);
  const on = PAYMENT_EVENTS[p.status];
  if (on === "failed") await fail(m, orderId, p.failureCode ?? "card_declined", source);
  else if (on === "requires_action") await settle(m, orderId, on, source, { nextActionJson: JSON.stringify(p.nextAction ?? null) });
  else if (on) await settle(m, orderId, on, source);
}
