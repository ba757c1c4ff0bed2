import type { DataSource } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { logger } from "../../../platform/logger.js";

export interface Profile {
  userId: string;
  displayName: string;
  avatarUrl: string | null;
}

/**
 * The latest public name and avatar seen in each user's token. `touch` runs on `me` and the
 * money mutations; it writes only when the values differ from what this process last wrote
 * (and the upsert itself changes nothing when the row already holds them), so a steady user
 * costs no query at all.
 */
export class ProfileService {
  /** user id → "name\0avatar" last known to be stored; bounded, oldest evicted first. */
  private readonly stored = new Map<string, string>();
  static readonly REMEMBERED_MAX = 50_000;

  constructor(private readonly dataSource: DataSource) {}

  /** Writes in flight per user: a burst of first requests by one user costs one upsert. */
  private readonly inFlight = new Map<string, Promise<void>>();

  /**
   * Best effort: a display name is not worth failing a money mutation over, so a failed write is
   * logged and retried on the user's next request (nothing is remembered as stored).
   */
  async touch(user: Pick<AuthUser, "id" | "name" | "avatarUrl">): Promise<void> {
    const value = `${user.name}\u0000${user.avatarUrl ?? ""}`;
    if (this.stored.get(user.id) === value) return;
    const pending = this.inFlight.get(user.id);
    if (pending) return pending;
    const write = this.write(user.id, user.name, user.avatarUrl ?? null, value).finally(() => this.inFlight.delete(user.id));
    this.inFlight.set(user.id, write);
    return write;
  }

  private async write(userId: string, name: string, avatarUrl: string | null, value: string): Promise<void> {
    try {
      await this.dataSource.query(
        `INSERT INTO wallet.user_profiles (user_id, display_name, avatar_url) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO UPDATE SET display_name = EXCLUDED.display_name, avatar_url = EXCLUDED.avatar_url, updated_at = now()
         WHERE (user_profiles.display_name, user_profiles.avatar_url) IS DISTINCT FROM (EXCLUDED.display_name, EXCLUDED.avatar_url)`,
        [userId, name, avatarUrl],
      );
    } catch (e) {
      logger.warn({ userId, err: e instanceof Error ? e.message : String(e) }, "user profile not stored; retried on the next request");
      return;
    }
    this.stored.delete(userId);
    if (this.stored.size >= ProfileService.REMEMBERED_MAX) this.stored.delete(this.stored.keys().next().value!);
    this.stored.set(userId, value);
  }

  /** Profiles for many users in one SELECT; null for a user the wallet has never seen signed in. */
  async byIds(userIds: readonly string[]): Promise<(Profile | null)[]> {
    const rows: { user_id: string; display_name: string; avatar_url: string | null }[] = userIds.length
      ? await this.dataSource.query(`SELECT user_id, display_name, avatar_url FROM wallet.user_profiles WHERE user_id = ANY($1::text[])`, [[...new Set(userIds)]])
      : [];
    const byId = new Map(rows.map((r) => [r.user_id, { userId: r.user_id, displayName: r.display_name, avatarUrl: r.avatar_url }]));
    return userIds.map((id) => byId.get(id) ?? null);
  }
}
