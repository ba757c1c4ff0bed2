import type { DataSource } from "typeorm";
import { isTransientDatabaseError } from "../../../platform/db.js";
import { GroupCommit } from "../../../platform/group-commit.js";
import { idempotencyIn } from "../../../platform/idempotency.js";

export { MAX_IDEMPOTENCY_KEY_LENGTH, requestHash, validateIdempotencyKey, type IdempotentCall } from "../../../platform/idempotency.js";

/** The wallet's money mutations (sendGift; recharge keeps its key on the order row) share one key space per user. */
export const idempotent = idempotencyIn("wallet.idempotency_keys");

export interface StoredKey {
  operation: string;
  request_hash: string;
  /** The stored result; null while the operation that claimed the key has not committed it. */
  response: unknown;
}

/**
 * What is stored under (user, key), read without a lock (sendGift's replay check before its owner
 * reads). Lookups issued at the same moment by different requests share one SELECT.
 */
export class StoredKeys {
  private readonly reads: GroupCommit<{ userId: string; key: string }, StoredKey | null>;
  private seq = 0;

  constructor(private readonly ds: DataSource) {
    this.reads = new GroupCommit(
      { maxSize: 256, maxWaitMs: 0, maxInFlight: 2 },
      (keys) => this.read(keys),
      () => String(++this.seq), // reads keep no order
      isTransientDatabaseError,
    );
  }

  get(userId: string, key: string): Promise<StoredKey | null> {
    return this.reads.submit({ userId, key });
  }

  private async read(keys: { userId: string; key: string }[]): Promise<(StoredKey | null)[]> {
    const rows: (StoredKey & { user_id: string; key: string })[] = await this.ds.query(
      `SELECT k.user_id, k.key, k.operation, k.request_hash, k.response
         FROM wallet.idempotency_keys k
         JOIN unnest($1::text[], $2::text[]) AS q(user_id, key) ON k.user_id = q.user_id AND k.key = q.key`,
      [keys.map((k) => k.userId), keys.map((k) => k.key)],
    );
    const found = new Map(rows.map((r) => [`${r.user_id}\u0000${r.key}`, r]));
    return keys.map((k) => found.get(`${k.userId}\u0000${k.key}`) ?? null);
  }
}
