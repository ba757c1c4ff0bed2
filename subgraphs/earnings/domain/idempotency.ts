import { createHash } from "node:crypto";
import type { DataSource, EntityManager } from "typeorm";
import { DomainError, ErrorCode, badInput } from "../../common/errors.js";

/**
 * Idempotency keys for earnings' money mutations (requestPayout), in earnings' own schema.
 * Same semantics as the wallet's (subgraphs/wallet/domain/idempotency.ts) — a candidate to
 * move to subgraphs/common parameterized by schema; copied, not imported, to keep the
 * subgraphs independent until then.
 */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 128;

export function validateIdempotencyKey(key: unknown): string {
  if (typeof key !== "string" || key.length === 0) throw badInput("idempotencyKey is required", ["input", "idempotencyKey"]);
  if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) throw badInput(`idempotencyKey must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, ["input", "idempotencyKey"]);
  if (!/^[\x21-\x7e]+$/.test(key)) throw badInput("idempotencyKey must be printable ASCII without spaces", ["input", "idempotencyKey"]);
  return key;
}

export function requestHash(operation: string, request: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(canonical) : v && typeof v === "object" ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b)).map(([k, x]) => [k, canonical(x)])) : v;
  return createHash("sha256").update(operation).update("\0").update(JSON.stringify(canonical(request))).digest("hex");
}

export interface IdempotentCall {
  userId: string;
  key: string;
  operation: string;
  request: unknown;
}

/**
 * Runs `fn` once per (user, key) in ONE transaction with the key row. A concurrent call with
 * the same key blocks on the key's primary key until the first commits, then replays its
 * stored response; a different request under the same key is IDEMPOTENCY_KEY_REUSED; a
 * DomainError rolls everything back, key included (nothing changed, a retry may succeed).
 * Return plain JSON data so a replay equals the original.
 */
export async function idempotent<R>(ds: DataSource, call: IdempotentCall, fn: (m: EntityManager) => Promise<R>): Promise<{ result: R; replayed: boolean }> {
  const hash = requestHash(call.operation, call.request);
  return ds.transaction(async (m) => {
    const inserted: unknown[] = await m.query(
      `INSERT INTO earnings.idempotency_keys (user_id, key, operation, request_hash) VALUES ($1, $2, $3, $4)
       ON CONFLICT (user_id, key) DO NOTHING RETURNING 1`,
      [call.userId, call.key, call.operation, hash],
    );
    if (inserted.length === 0) {
      const [row] = await m.query(`SELECT operation, request_hash, response FROM earnings.idempotency_keys WHERE user_id = $1 AND key = $2`, [call.userId, call.key]);
      if (row.operation !== call.operation || row.request_hash !== hash) {
        throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used with a different request");
      }
      return { result: row.response as R, replayed: true };
    }
    const result = await fn(m);
    await m.query(`UPDATE earnings.idempotency_keys SET response = $3 WHERE user_id = $1 AND key = $2`, [call.userId, call.key, JSON.stringify(result)]);
    return { result, replayed: false };
  });
}
