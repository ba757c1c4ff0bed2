import { createHash } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import { DomainError, ErrorCode, badInput } from "./errors.js";
import type { MoneyAction, MoneyRateLimiter } from "./money-rate-limit.js";

/**
 * Idempotency keys with Stripe semantics, shared by every subgraph that moves money.
 * Each subgraph keeps its keys in its own schema (`<schema>.idempotency_keys`, columns
 * user_id, key, operation, request_hash, response) and binds the table in domain/idempotency.ts.
 */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

export function validateIdempotencyKey(key: unknown): string {
  if (typeof key !== "string" || key.length === 0) throw badInput("idempotencyKey is required", ["input", "idempotencyKey"]);
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw badInput(`idempotencyKey must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, ["input", "idempotencyKey"]);
  if (!/^[\x21-\x7e]+$/.test(key)) throw badInput("idempotencyKey must be printable ASCII without spaces", ["input", "idempotencyKey"]);
  return key;
}

/** Stable hash of a request: key order does not matter. */
export function requestHash(operation: string, request: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)])) : v;
  return createHash("sha256").update(operation).update("\0").update(JSON.stringify(canonical(request))).digest("hex");
}

export interface IdempotentCall {
  userId: string;
  key: string;
  operation: string;
  /** The input without the key; compared by hash. */
  request: unknown;
  /**
   * The per-user durable rate limit, taken in the same statement that claims the key: only a
   * new operation takes a token (a replay, or a duplicate waiting for an in-flight original,
   * never does), and a refusal or a failure rolls the token back with the key.
   */
  limit?: { limiter: MoneyRateLimiter; action: MoneyAction };
}

export type IdempotentRunner = <R>(ds: DataSource, call: IdempotentCall, fn: (m: EntityManager) => Promise<R>) => Promise<{ result: R; replayed: boolean }>;

/**
 * Binds the runner to one schema's key table. The runner executes `fn` once per (user, key)
 * in ONE transaction with the key row:
 * - a concurrent call with the same key blocks on the key's primary key until the first
 *   commits, then returns the stored response (no second charge);
 * - a later call returns the stored response;
 * - the same key with a different request is IDEMPOTENCY_KEY_REUSED;
 * - with `call.limit`, a new key also takes a rate-limit token in the claiming statement
 *   (RATE_LIMITED, a GraphQL error, when none is left; nothing is written).
 * A DomainError rolls everything back, key (and token) included: nothing changed, so a retry may succeed.
 * The result is stored as JSON: return plain data (dates as ISO strings) so a replay equals the original.
 */
export function idempotencyIn(table: "wallet.idempotency_keys" | "earnings.idempotency_keys"): IdempotentRunner {
  return async (ds, call, fn) => {
    const hash = requestHash(call.operation, call.request);
    return ds.transaction(async (m) => {
      const claim = `INSERT INTO ${table} (user_id, key, operation, request_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (user_id, key) DO NOTHING RETURNING 1`;
      const params = [call.userId, call.key, call.operation, hash];
      const limit = call.limit;
      const [claimed]: { claimed: boolean; admitted: boolean }[] = limit
        ? await m.query(
          `WITH claimed AS (${claim}), token AS (${limit.limiter.claimSql(5, "EXISTS (SELECT 1 FROM claimed)")})
           SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, EXISTS (SELECT 1 FROM token) AS admitted`,
          [...params, ...limit.limiter.claimParams(call.userId, limit.action)],
        )
        : (await m.query(claim, params)).map(() => ({ claimed: true, admitted: true }));
      if (claimed?.claimed && !claimed.admitted) throw await limit!.limiter.refusal(m, call.userId, limit!.action);
      if (!claimed?.claimed) {
        const [row] = await m.query(`SELECT operation, request_hash, response FROM ${table} WHERE user_id = $1 AND key = $2`, [call.userId, call.key]);
        if (row.operation !== call.operation || row.request_hash !== hash) {
          throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used with a different request");
        }
        return { result: row.response, replayed: true };
      }
      const result = await fn(m);
      await m.query(`UPDATE ${table} SET response = $3 WHERE user_id = $1 AND key = $2`, [call.userId, call.key, JSON.stringify(result)]);
      return { result, replayed: false };
    });
  };
}
