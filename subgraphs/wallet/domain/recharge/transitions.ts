import type { ProviderPaymentStatus, WebhookEventType } from "../payments/provider.js";

/**
 * The recharge order state machine, as data (docs/recharge.md "The state machine").
 *
 * Nothing here touches the database or the clock, so test/unit/recharge-transitions.test.ts checks
 * it without PostgreSQL. machine.ts runs it: under the order's row lock it looks up
 * (current status, event); a row means "move to `to`, write `writes` on the order (one fixed
 * statement per kind), then run `effects` in the same transaction"; no row means the order has
 * already moved on (someone else decided it) and nothing happens. That is why the API call's
 * answer, confirmRecharge, webhooks (repeated, out of order), the reconciler and admin refunds can
 * all race: each event is applied at most once, and coins are credited only by `credit_coins`.
 *
 *   PROCESSING ──▶ SUCCEEDED ──▶ REFUNDED | CHARGED_BACK
 *        │ ▲            ▲
 *        ▼ │            │
 *   PENDING / REQUIRES_ACTION ──▶ FAILED
 *
 * PROCESSING means "the provider call is in flight": the order row exists (so a duplicate request
 * finds it) but no database transaction is held open across the provider call.
 */

export const ORDER_STATUSES = ["PROCESSING", "PENDING", "REQUIRES_ACTION", "SUCCEEDED", "FAILED", "REFUNDED", "CHARGED_BACK"] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Every order is created in this status (the provider has not been called yet). */
export const INITIAL_STATUS: OrderStatus = "PROCESSING";

/** What happened to the payment, whoever reports it (provider answer, confirm, webhook, reconciler, admin refund). */
export const ORDER_EVENTS = ["succeeded", "failed", "requires_action", "processing", "refunded", "charged_back", "refunds_completed"] as const;
export type OrderEvent = (typeof ORDER_EVENTS)[number];

/**
 * What the transition writes on the order row besides `status` and `updated_at` (machine.ts has
 * one statement per kind, with `now()` spelled out in it):
 * - completion: completed_at = now(), next_action = NULL
 * - failure: completed_at = now(), next_action = NULL, failure_code, provider_failure_code
 * - next_action: next_action (the provider's 3-D Secure challenge)
 * - status: nothing else
 * - reversal: reversed_at = now(), reversal_reason
 * - refund_totals: written by domain/refunds.ts in the statement that books the last partial refund
 */
export type OrderWrite = "completion" | "failure" | "next_action" | "status" | "reversal" | "refund_totals";

/** What runs after the order row is written, in the same transaction (settle.ts). */
export type Effect =
  /** RECHARGE (+ BONUS) ledger entries for the order's coins; new coins repay debt first (DEBT_REPAID). */
  | { readonly kind: "credit_coins" }
  /** Takes back the coins not yet taken back by partial refunds; what the balance cannot cover becomes debt. */
  | { readonly kind: "take_back_coins"; readonly entry: "REFUND" | "CHARGEBACK"; readonly moneyRefunded: boolean };

export interface Transition {
  readonly from: OrderStatus;
  readonly on: OrderEvent;
  readonly to: OrderStatus;
  readonly writes: OrderWrite;
  readonly effects: readonly Effect[];
}

/** Not decided yet: the provider may still answer either way. */
export const OPEN_STATUSES: readonly OrderStatus[] = ["PROCESSING", "PENDING", "REQUIRES_ACTION"];

const CREDIT: Effect = { kind: "credit_coins" };
const TAKE_BACK_REFUND: Effect = { kind: "take_back_coins", entry: "REFUND", moneyRefunded: true };
const TAKE_BACK_CHARGEBACK: Effect = { kind: "take_back_coins", entry: "CHARGEBACK", moneyRefunded: false };

function rows(from: readonly OrderStatus[], on: OrderEvent, to: OrderStatus, writes: OrderWrite, effects: readonly Effect[] = []): Transition[] {
  return from.map((f) => ({ from: f, on, to, writes, effects }));
}

/** The whole machine: every (from, event) pair not listed here changes nothing. */
export const TRANSITIONS: readonly Transition[] = [
  // Paid: the one place coins are credited.
  ...rows(OPEN_STATUSES, "succeeded", "SUCCEEDED", "completion", [CREDIT]),
  // Declined or failed later (asynchronous methods, an abandoned 3-D Secure challenge).
  ...rows(OPEN_STATUSES, "failed", "FAILED", "failure"),
  // Only the provider's first answer can ask for action or defer; later answers decide.
  ...rows(["PROCESSING"], "requires_action", "REQUIRES_ACTION", "next_action"),
  ...rows(["PROCESSING"], "processing", "PENDING", "status"),
  // Reversals by the provider (webhooks): only a paid order can be refunded or disputed.
  ...rows(["SUCCEEDED"], "refunded", "REFUNDED", "reversal", [TAKE_BACK_REFUND]),
  ...rows(["SUCCEEDED"], "charged_back", "CHARGED_BACK", "reversal", [TAKE_BACK_CHARGEBACK]),
  // Admin partial refunds that reach the order's amount (refunds.ts takes back each refund's share itself).
  ...rows(["SUCCEEDED"], "refunds_completed", "REFUNDED", "refund_totals"),
];

const BY_KEY = new Map<string, Transition>(TRANSITIONS.map((t) => [`${t.from}\u0000${t.on}`, t]));
if (BY_KEY.size !== TRANSITIONS.length) throw new Error("recharge TRANSITIONS lists a (from, event) pair twice");

/** The transition an event causes from a status, or null (the event changes nothing). */
export function transitionFor(from: string, on: OrderEvent): Transition | null {
  return BY_KEY.get(`${from}\u0000${on}`) ?? null;
}

export function isOpen(status: string): boolean {
  return (OPEN_STATUSES as readonly string[]).includes(status);
}

/** Statuses clients can see (GraphQL RechargeStatus): PROCESSING is shown as PENDING. */
export type PublicStatus = Exclude<OrderStatus, "PROCESSING">;

/** What each status means to the API. */
export interface StatusRule {
  /** What clients see: the provider call being in flight is not a state they need to tell apart. */
  readonly shownAs: PublicStatus;
  /** confirmRecharge: call the provider (`confirm`), answer the order as it is (`replay`), or INVALID_STATE (`refuse`). */
  readonly onConfirm: "confirm" | "replay" | "refuse";
}

export const STATUS_RULES: Readonly<Record<OrderStatus, StatusRule>> = {
  PROCESSING: { shownAs: "PENDING", onConfirm: "refuse" },
  PENDING: { shownAs: "PENDING", onConfirm: "refuse" },
  REQUIRES_ACTION: { shownAs: "REQUIRES_ACTION", onConfirm: "confirm" },
  // Already decided (e.g. the webhook got there first): confirming again is a harmless replay.
  SUCCEEDED: { shownAs: "SUCCEEDED", onConfirm: "replay" },
  FAILED: { shownAs: "FAILED", onConfirm: "replay" },
  REFUNDED: { shownAs: "REFUNDED", onConfirm: "replay" },
  CHARGED_BACK: { shownAs: "CHARGED_BACK", onConfirm: "replay" },
};

export function shownAs(status: OrderStatus): PublicStatus {
  return STATUS_RULES[status].shownAs;
}

/** The stored statuses a status filter matches: the status itself and those shown as it (PENDING: PENDING and PROCESSING). */
export function statusesMatching(filter: OrderStatus): OrderStatus[] {
  return ORDER_STATUSES.filter((s) => s === filter || STATUS_RULES[s].shownAs === filter);
}

/** The event a provider's answer about a payment means (createPayment, confirmPayment, retrieve, cancel). */
export const PAYMENT_EVENTS: Readonly<Record<ProviderPaymentStatus, "succeeded" | "failed" | "requires_action" | "processing">> = {
  succeeded: "succeeded",
  failed: "failed",
  requires_action: "requires_action",
  processing: "processing",
};

export interface WebhookRule {
  readonly on: OrderEvent;
  /** Only a paid order can be refunded or disputed: if its success has not reached us yet, it has happened. */
  readonly succeededFirst: boolean;
  /** The reversal reason recorded on the order. */
  readonly reason?: string;
}

/** The event each provider webhook means. */
export const WEBHOOK_EVENTS: Readonly<Record<WebhookEventType, WebhookRule>> = {
  "payment.succeeded": { on: "succeeded", succeededFirst: false },
  "payment.failed": { on: "failed", succeededFirst: false },
  "payment.refunded": { on: "refunded", succeededFirst: true, reason: "refunded at the payment provider" },
  "payment.charged_back": { on: "charged_back", succeededFirst: true, reason: "chargeback" },
};
