import { idempotencyIn } from "../../../platform/idempotency.js";

export { MAX_IDEMPOTENCY_KEY_LENGTH, requestHash, validateIdempotencyKey, type IdempotentCall } from "../../../platform/idempotency.js";

/** Idempotency keys for earnings' money mutations (requestPayout), in earnings' own schema. */
export const idempotent = idempotencyIn("earnings.idempotency_keys");
