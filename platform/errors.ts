import { GraphQLError } from "graphql";
import { GraphQLErrorCode } from "./codes.js";
import { Directive, Field, Int, ObjectType, registerEnumType } from "type-graphql";

/**
 * Stable business error codes, shared by every subgraph so the composed graph has
 * one ErrorCode enum. Business failures travel as `userErrors` (they change nothing);
 * authentication/authorization are GraphQL errors (UNAUTHENTICATED / FORBIDDEN);
 * malformed input is BAD_USER_INPUT (InputError). Append new codes; never rename or remove one.
 * Every other code on the wire (GraphQL error, stream and close codes) is in platform/codes.ts.
 */
export enum ErrorCode {
  INVALID_INPUT = "INVALID_INPUT",
  NOT_FOUND = "NOT_FOUND",
  IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED",
  IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE",
  LIMIT_EXCEEDED = "LIMIT_EXCEEDED",
  RATE_LIMITED = "RATE_LIMITED",
  NOT_ADULT = "NOT_ADULT",
  PAYMENT_DECLINED = "PAYMENT_DECLINED",
  PAYMENT_FAILED = "PAYMENT_FAILED",
  INVALID_STATE = "INVALID_STATE",
  INSUFFICIENT_COINS = "INSUFFICIENT_COINS",
  PRICE_CHANGED = "PRICE_CHANGED",
  IN_DEBT = "IN_DEBT",
  GIFT_NOT_AVAILABLE = "GIFT_NOT_AVAILABLE",
  HOST_NOT_FOUND = "HOST_NOT_FOUND",
  CANNOT_GIFT_SELF = "CANNOT_GIFT_SELF",
  SESSION_NOT_LIVE = "SESSION_NOT_LIVE",
  ALREADY_LIVE = "ALREADY_LIVE",
  BELOW_MINIMUM = "BELOW_MINIMUM",
  INSUFFICIENT_DIAMONDS = "INSUFFICIENT_DIAMONDS",
  SLUG_TAKEN = "SLUG_TAKEN",
  UNKNOWN_REGION = "UNKNOWN_REGION",
  UNKNOWN_CATEGORY = "UNKNOWN_CATEGORY",
  PAYMENT_METHOD_NOT_AVAILABLE = "PAYMENT_METHOD_NOT_AVAILABLE",
  PRICE_ALREADY_SCHEDULED = "PRICE_ALREADY_SCHEDULED",
  PACKAGE_RETIRED = "PACKAGE_RETIRED",
  PROMOTION_ENDED = "PROMOTION_ENDED",
  PACKAGE_ID_TAKEN = "PACKAGE_ID_TAKEN",
  REFUND_EXCEEDS_ORDER = "REFUND_EXCEEDS_ORDER",
  TOO_MANY_OVERLAY_TOKENS = "TOO_MANY_OVERLAY_TOKENS",
  MESSAGE_REJECTED = "MESSAGE_REJECTED",
  OPERATION_NOT_PERSISTED = "OPERATION_NOT_PERSISTED",
}

/**
 * What each code means and what a client should do (docs/frontend.md has the same table).
 * A code appended without a line here still works; add its line with it.
 */
const ERROR_CODE_DESCRIPTIONS: Partial<Record<ErrorCode, string>> = {
  INVALID_INPUT: "A value is out of its allowed range (see `field` and the message). Fix the input; retrying unchanged fails again.",
  NOT_FOUND: "The object named by the input does not exist (or is not yours). Refresh the screen's data.",
  IDEMPOTENCY_KEY_REUSED: "This idempotencyKey was already used with different input. Use a new key for a new attempt.",
  IDEMPOTENCY_KEY_IN_USE: "The first request with this idempotencyKey is still running. Retry the same request with the same key shortly.",
  LIMIT_EXCEEDED: "A limit was reached (velocity, spending limit, combo cap, daily payout maximum). Show the message; `retryAfterSeconds` says when it frees up.",
  RATE_LIMITED: "Too many requests. Wait `retryAfterSeconds`, then retry with the same idempotencyKey.",
  NOT_ADULT: "Buying and sending need an adult, verified account. Do not offer the action.",
  PAYMENT_DECLINED: "The bank declined the payment; the order is FAILED (see RechargeOrder.failureCode). Suggest another payment method.",
  PAYMENT_FAILED: "The payment failed for a non-decline reason; the order is FAILED (see failureCode). Suggest trying again or another method.",
  PACKAGE_RETIRED: "The coin package was retired: show `currentOffer` (the region's packages now) and let the viewer pick again. Nothing was charged.",
  PROMOTION_ENDED: "The promotion the client showed has ended (or changed): show `currentOffer` and ask again. Nothing was charged.",
  PACKAGE_ID_TAKEN: "Admins: a coin package with this id exists already; pick another id.",
  REFUND_EXCEEDS_ORDER: "Admins: the refund is larger than what is left of the order (paid minus refunded so far). Nothing was refunded.",
  TOO_MANY_OVERLAY_TOKENS: "The host holds the most overlay links allowed: revoke one (Creator.overlayTokens) before creating another.",
  MESSAGE_REJECTED: "The gift's message breaks the moderation rules: change the message. Nothing was charged.",
  OPERATION_NOT_PERSISTED:
    "A GraphQL error (HTTP 400 / a graphql-ws `error`): the gateway runs only its persisted-operation manifest (PERSISTED_OPERATIONS=required) and this operation (its id or its exact text) is not in it. Nothing ran. Ship the client built with the current manifest; do not retry.",
  INVALID_STATE: "The object is in a state that does not allow this (e.g. a retired gift, a payout no longer REQUESTED). Refresh it.",
  INSUFFICIENT_COINS: "Not enough coins; `balance` is the current balance. Offer a recharge.",
  PRICE_CHANGED: "The gift's price changed since it was shown; `currentUnitCost` is the new price. Show it and let the viewer confirm.",
  IN_DEBT: "The wallet owes coins after a refund or chargeback; sending is blocked until a recharge repays it. Offer a recharge.",
  GIFT_NOT_AVAILABLE: "The gift cannot be sent now (retired, outside its window or region). Refresh the gift list.",
  HOST_NOT_FOUND: "The host does not exist or cannot receive gifts. Do not retry.",
  CANNOT_GIFT_SELF: "A user cannot send a gift to themselves.",
  SESSION_NOT_LIVE: "The live session has ended (or belongs to another host). Refresh the room; send without liveSessionId or not at all.",
  ALREADY_LIVE: "The host is already live in another session. End it or use it.",
  BELOW_MINIMUM: "The payout is below the minimum (10,000 diamonds). Show the minimum.",
  INSUFFICIENT_DIAMONDS: "Not enough spendable diamonds; `balance` is the current balance.",
  SLUG_TAKEN: "Admin: another gift already uses this slug. Choose another.",
  UNKNOWN_REGION: "Admin: a region code is not a market the catalog sells in (see catalogRegions).",
  UNKNOWN_CATEGORY: "Admin: no such gift category (see giftCategories).",
  PAYMENT_METHOD_NOT_AVAILABLE: "The payment method type is not offered in the account's region (see rechargeOptions.paymentMethods).",
  PRICE_ALREADY_SCHEDULED: "Admin: a price change is already scheduled at that moment. Cancel it first or pick another time.",
};

registerEnumType(ErrorCode, {
  name: "ErrorCode",
  description: "Stable machine-readable codes for business failures (UserError.code). Switch on the code, never on the message.",
  valuesConfig: Object.fromEntries(Object.entries(ERROR_CODE_DESCRIPTIONS).map(([k, description]) => [k, { description }])),
});

@Directive("@shareable")
// In the partner contract too: the webhook mutations answer business failures with it.
@Directive('@tag(name: "partner")')
@ObjectType({ description: "A business failure. The mutation changed nothing." })
export class UserError {
  @Field(() => ErrorCode, { description: "What went wrong, to switch on (see the ErrorCode values)." })
  code: ErrorCode;

  @Field({ description: "Human-readable explanation; do not parse it, use `code`." })
  message: string;

  @Field(() => [String], { nullable: true, description: "Path to the input field at fault, when one is." })
  field?: string[];

  @Field(() => Int, { nullable: true, description: "RATE_LIMITED / LIMIT_EXCEEDED: seconds until a retry can succeed." })
  retryAfterSeconds?: number;

  @Field(() => Int, { nullable: true, description: "PRICE_CHANGED: the gift's current unit cost in coins." })
  currentUnitCost?: number;

  @Field(() => Int, { nullable: true, description: "INSUFFICIENT_COINS / INSUFFICIENT_DIAMONDS: the current balance." })
  balance?: number;

  @Field(() => Int, { nullable: true, description: "INSUFFICIENT_COINS / INSUFFICIENT_DIAMONDS: how much is missing." })
  shortfall?: number;
}

/** Thrown by domain code for a business failure; resolvers turn it into a UserError. */
export class DomainError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: Omit<UserError, "code" | "message"> = {},
  ) {
    super(message);
    this.name = "DomainError";
  }

  toUserError(): UserError {
    return Object.assign(new UserError(), { code: this.code, message: this.message, ...this.extra });
  }

  /** The business failure as a GraphQL error (`code`, `field`), where the schema has no userErrors to carry it. */
  toGraphQLError(): GraphQLError {
    return new GraphQLError(this.message, { extensions: { code: this.code, field: this.extra.field } });
  }
}

/** Several business failures at once (an admin form shows them all); nothing was written. withUserErrors returns them all. */
export class ValidationFailed extends Error {
  constructor(readonly errors: UserError[]) {
    super(errors.map((e) => e.message).join("; "));
    this.name = "ValidationFailed";
  }
}

/**
 * How a domain error reaches clients. graphql-js copies a thrown error's `extensions` into the
 * GraphQL error it reports (locatedError), so a domain error that carries them is reported
 * exactly as the equivalent GraphQLError would be: same code, message, path, and the same code
 * in the request log and metrics, with no GraphQL import in domain code.
 */
abstract class ReportedDomainError extends Error {
  abstract readonly code: GraphQLErrorCode;
  abstract readonly extensions: Readonly<Record<string, unknown>>;
}

/**
 * Malformed input (an id's shape, a page size, a timestamp): thrown by domain code, reported as
 * a GraphQL error BAD_USER_INPUT with `field` (never a userError: nothing a user could act on
 * in a form). withUserErrors lets it through (it is not a DomainError).
 */
export class InputError extends ReportedDomainError {
  readonly code = GraphQLErrorCode.BadUserInput;
  readonly extensions: { code: GraphQLErrorCode.BadUserInput; field: string[] | undefined };

  constructor(
    message: string,
    readonly field?: string[],
  ) {
    super(message);
    this.name = "InputError";
    this.extensions = { code: this.code, field };
  }
}

/** A dependency (an owner read) failed: nothing was written, the same request may be retried. Reported as SERVICE_UNAVAILABLE. */
export class UnavailableError extends ReportedDomainError {
  readonly code = GraphQLErrorCode.ServiceUnavailable;
  readonly extensions: { code: GraphQLErrorCode.ServiceUnavailable };

  constructor(message: string, cause?: unknown) {
    super(message, cause instanceof Error ? { cause } : undefined);
    this.name = "UnavailableError";
    this.extensions = { code: this.code };
  }
}

/**
 * The one mapping from domain errors to a mutation's payload, in every subgraph: runs a domain call
 * and answers `{ ...result, userErrors: [] }`, or `{ userErrors }` (nothing else set) for a
 * DomainError (one) or ValidationFailed (all of them). Anything else — an InputError, an
 * UnavailableError, a bug, the database down — propagates as a GraphQL error.
 */
export async function withUserErrors<T extends object>(fn: () => Promise<T>): Promise<Partial<T> & { userErrors: UserError[] }> {
  try {
    const result = await fn();
    return { ...result, userErrors: [] };
  } catch (e) {
    if (e instanceof ValidationFailed) return { userErrors: e.errors } as Partial<T> & { userErrors: UserError[] };
    if (e instanceof DomainError) return { userErrors: [e.toUserError()] } as Partial<T> & { userErrors: UserError[] };
    throw e;
  }
}

/** Malformed input: an InputError (reported as BAD_USER_INPUT with `field`). Domain and schema code alike throw it. */
export function badInput(message: string, field?: string[]): InputError {
  return new InputError(message, field);
}
