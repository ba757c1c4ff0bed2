import { idempotencyIn } from "../../../platform/idempotency.js";

export { MAX_IDEMPOTENCY_KEY_LENGTH, requestHash, validateIdempotencyKey, type IdempotentCall } from "../../../platform/idempotency.js";

/** The wallet's money mutations (sendGift; recharge keeps its key on the order row) share one key space per user. */
export const idempotent = idempotencyIn("wallet.idempotency_keys");
