/** Every error in words: userErrors by code, GraphQL and network errors by their code or message. */
export interface UserErrorLike {
  code: string;
  message: string;
  balance?: number | null;
  shortfall?: number | null;
  currentUnitCost?: number | null;
  retryAfterSeconds?: number | null;
}

const WORDS: Record<string, (e: UserErrorLike) => string> = {
  INSUFFICIENT_COINS: (e) => `Not enough coins: you have ${e.balance ?? 0} and need ${e.shortfall ?? "more"} more.`,
  PRICE_CHANGED: (e) => `The price just changed to ${e.currentUnitCost} coins. Tap again to send at the new price.`,
  IN_DEBT: () => "Your wallet has an open balance from a refunded purchase; recharge to settle it first.",
  GIFT_NOT_AVAILABLE: () => "This gift cannot be sent right now.",
  HOST_NOT_FOUND: () => "This host cannot receive gifts.",
  CANNOT_GIFT_SELF: () => "You cannot send gifts to yourself.",
  SESSION_NOT_LIVE: () => "This room is no longer live.",
  RATE_LIMITED: (e) => `Too fast: try again in ${e.retryAfterSeconds ?? "a few"} seconds.`,
  LIMIT_EXCEEDED: (e) => e.message,
  NOT_ADULT: () => "Buying coins is for adults only.",
  PAYMENT_DECLINED: () => "Your bank declined the payment. Try another card.",
  PAYMENT_FAILED: () => "The payment did not go through. Try again or use another card.",
  ALREADY_LIVE: () => "You are already live: end that session first.",
  BELOW_MINIMUM: () => "Payouts start at 10,000 diamonds.",
  INSUFFICIENT_DIAMONDS: (e) => `Not enough diamonds: you have ${e.balance ?? 0}.`,
  INVALID_STATE: (e) => e.message,
  NOT_FOUND: () => "Not found (it may have been removed).",
  TOO_MANY_OVERLAY_TOKENS: () => "You have too many overlay links: revoke one first.",
  UNAUTHENTICATED: () => "Please sign in first.",
  FORBIDDEN: () => "You are not allowed to do that.",
};

const FAILURES: Record<string, string> = {
  INSUFFICIENT_FUNDS: "The card has insufficient funds.",
  EXPIRED_CARD: "The card has expired.",
  CARD_DECLINED: "The card was declined.",
  AUTHENTICATION_FAILED: "The bank's 3-D Secure check was not completed.",
  INVALID_PAYMENT_METHOD: "That payment method is not valid.",
  PAYMENT_FAILED: "The payment failed.",
};

export function describeUserError(e: UserErrorLike): string {
  return WORDS[e.code]?.(e) ?? e.message;
}

export function describeFailure(code: string | null | undefined): string {
  return (code && FAILURES[code]) ?? "The payment failed.";
}

/** Apollo Client errors (GraphQL errors with extensions.code, or the network). */
export function describeError(err: unknown): string {
  const e = err as { errors?: { message: string; extensions?: { code?: string } }[]; message?: string; name?: string };
  const first = e?.errors?.[0];
  if (first) {
    const code = first.extensions?.code;
    if (code && WORDS[code]) return WORDS[code]({ code, message: first.message });
    return first.message;
  }
  if (e?.name === "TypeError" || /fetch/i.test(e?.message ?? "")) return "Cannot reach the server. Check your connection and try again.";
  return e?.message ?? String(err);
}
