import { expect } from "vitest";
import { post, type Stack } from "../support/stack.js";
import type { SandboxPaymentProvider } from "../../subgraphs/wallet/domain/payments/sandbox.js";
import type { RechargeService } from "../../subgraphs/wallet/domain/recharge.js";

export const ORDER_FIELDS = `id status coins bonusCoins totalCoins price { amountMinor currency formatted } region packageId paymentMethodType failureCode
  nextAction { type redirectUrl } reversal { coinsReversed debtRecorded reason } createdAt completedAt`;

export const RECHARGE = `mutation($input: RechargeInput!) { recharge(input: $input) { order { ${ORDER_FIELDS} } userErrors { code message field retryAfterSeconds } } }`;
export const CONFIRM = `mutation($id: ID!) { confirmRecharge(orderId: $id) { order { ${ORDER_FIELDS} } userErrors { code message field } } }`;
export const REFUND = `mutation($id: ID!, $reason: String!) { refundRecharge(orderId: $id, reason: $reason) { order { ${ORDER_FIELDS} } userErrors { code message field } } }`;
export const WALLET = `{ me { id wallet { coins debt } } }`;

let seq = 0;
/** A fresh user per test, so tests in one file never share a wallet or a velocity window. */
export function uniqueUser(prefix = "buyer"): string {
  return `${prefix}-${process.pid}-${++seq}`;
}

export const sandbox = (stack: Stack) => stack.subgraphs.wallet.services.payments as SandboxPaymentProvider;
export const rechargeService = (stack: Stack) => stack.subgraphs.wallet.services.recharge as RechargeService;

export { tokenFor } from "../support/tokens.js";

export interface RechargeArgs {
  packageId?: string;
  customCoins?: number;
  region?: string;
  token?: string;
  type?: string;
  key?: string;
}

export function rechargeInput(a: RechargeArgs) {
  return {
    ...(a.packageId !== undefined ? { packageId: a.packageId } : {}),
    ...(a.customCoins !== undefined ? { customCoins: a.customCoins } : {}),
    ...(a.region !== undefined ? { region: a.region } : {}),
    paymentMethod: { type: a.type ?? "CARD", token: a.token ?? "pm_card_ok" },
    idempotencyKey: a.key ?? `k-${Math.random().toString(36).slice(2)}`,
  };
}

/** recharge through the gateway (where a client is). */
export async function recharge(stack: Stack, jwt: string, a: RechargeArgs) {
  const res = await stack.gql(RECHARGE, { input: rechargeInput(a) }, jwt);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.recharge as { order: any; userErrors: any[] };
}

/** recharge straight to the wallet subgraph (verifies the token itself); used where the gateway's per-user burst limit would hide the wallet's own behaviour. */
export async function rechargeDirect(stack: Stack, jwt: string, a: RechargeArgs) {
  const res = await post(stack.subgraphs.wallet.url, RECHARGE, { input: rechargeInput(a) }, { token: jwt, service: "wallet" });
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.recharge as { order: any; userErrors: any[] };
}

export async function walletOf(stack: Stack, jwt: string): Promise<{ coins: number; debt: number }> {
  const res = await stack.gql(WALLET, {}, jwt);
  expect(res.errors).toBeUndefined();
  return res.data.me.wallet;
}

/** The ledger invariant, straight from the tables: the balance and the debt are the sums of their entries. */
export async function expectLedgerConsistent(stack: Stack, userId: string): Promise<{ coins: number; debt: number; entries: any[] }> {
  const ds = stack.subgraphs.wallet.dataSource;
  const [acct] = await ds.query(`SELECT coins, debt FROM wallet.accounts WHERE user_id = $1`, [userId]);
  const entries = await ds.query(`SELECT type, amount::int, debt_change::int, balance_after::int, debt_after::int, reference FROM wallet.ledger_entries WHERE user_id = $1 ORDER BY id`, [userId]);
  const sum = entries.reduce((s: number, e: any) => s + e.amount, 0);
  const debt = entries.reduce((s: number, e: any) => s + e.debt_change, 0);
  expect(Number(acct?.coins ?? 0)).toBe(sum);
  expect(Number(acct?.debt ?? 0)).toBe(debt);
  // Each entry's running balance is the sum of what came before it.
  let running = 0;
  let runningDebt = 0;
  for (const e of entries) {
    running += e.amount;
    runningDebt += e.debt_change;
    expect(e.balance_after).toBe(running);
    expect(e.debt_after).toBe(runningDebt);
  }
  return { coins: sum, debt, entries };
}

export async function ledgerFor(stack: Stack, orderId: string): Promise<{ type: string; amount: number; debt_change: number }[]> {
  return stack.subgraphs.wallet.dataSource.query(`SELECT type, amount::int, debt_change::int FROM wallet.ledger_entries WHERE reference = $1 ORDER BY id`, [orderId]);
}

export async function paymentIdOf(stack: Stack, orderId: string): Promise<string> {
  const [r] = await stack.subgraphs.wallet.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [orderId]);
  return r.provider_payment_id;
}
