import { GraphQLError } from "graphql";
import { Directive, Field, Int, ObjectType, registerEnumType } from "type-graphql";

/**
 * Stable business error codes, shared by every subgraph so the composed graph has
 * one ErrorCode enum. Business failures travel as `userErrors` (they change nothing);
 * authentication/authorization are GraphQL errors (UNAUTHENTICATED / FORBIDDEN);
 * malformed input is BAD_USER_INPUT. Append new codes; never rename or remove one.
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
  MESSAGE_REJECTED = "MESSAGE_REJECTED",
}

registerEnumType(ErrorCode, { name: "ErrorCode", description: "Stable machine-readable codes for business failures." });

@Directive("@shareable")
// In the partner contract too: the webhook mutations answer business failures with it.
@Directive('@tag(name: "partner")')
@ObjectType({ description: "A business failure. The mutation changed nothing." })
export class UserError {
  @Field(() => ErrorCode, { description: "Stable machine-readable reason; switch on it." })
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
}

/** Runs a domain call and maps DomainError to `{ userErrors }`; anything else propagates. */
export async function withUserErrors<T extends object>(fn: () => Promise<T>): Promise<T & { userErrors: UserError[] }> {
  try {
    const result = await fn();
    return { ...result, userErrors: [] };
  } catch (e) {
    if (e instanceof DomainError) return { userErrors: [e.toUserError()] } as unknown as T & { userErrors: UserError[] };
    throw e;
  }
}

export function badInput(message: string, field?: string[]): GraphQLError {
  return new GraphQLError(message, { extensions: { code: "BAD_USER_INPUT", field } });
}
