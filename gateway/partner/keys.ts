import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { DataSource } from "typeorm";
import { createDataSource, migrate } from "../../platform/db.js";
import { GcraTable, type RateDecision } from "../../platform/gcra-table.js";
import { CreatePartners1732301000000 } from "./db/migrations/1732301000000-CreatePartners.js";
import { PartnerKeyChangeNotify1733100000000 } from "./db/migrations/1733100000000-PartnerKeyChangeNotify.js";

/** The gateway owns one PostgreSQL schema, `partners` (API keys and rate-limit state). */
export const PARTNERS_SCHEMA = "partners";
/** Applied in order; append, never edit a migration that has shipped. */
export const partnerMigrations = [CreatePartners1732301000000, PartnerKeyChangeNotify1733100000000];
/** NOTIFY channel of a key's revocation, expiry change or deletion (payload: key id), sent by a trigger. */
export const PARTNER_KEY_CHANNEL = "partner_key_changed";

/**
 * Keys look like `gep_<16 hex key id>_<43 chars base64url secret>` (256 random bits).
 * The key id is public (it finds the row and appears in logs and `list`); only the
 * SHA-256 of the whole key is stored. A fast hash is right here: the secret is
 * random and long, so there is nothing to brute-force (unlike a password).
 */
const KEY_PATTERN = /^gep_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;
export const PARTNER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function generateKey(): { key: string; keyId: string } {
  const keyId = randomBytes(8).toString("hex");
  return { key: `gep_${keyId}_${randomBytes(32).toString("base64url")}`, keyId };
}

export function parseKey(key: string): { keyId: string } | null {
  const m = KEY_PATTERN.exec(key);
  return m ? { keyId: m[1] } : null;
}

export function hashKey(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

export interface KeyInfo {
  id: string;
  keyId: string;
  partner: string;
  ratePerMinute: number;
  burst: number;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
  /** Usable right now (not revoked, not past a rotation grace period). */
  active: boolean;
}

export interface AuthenticatedKey {
  id: string;
  keyId: string;
  partner: string;
  ratePerMinute: number;
  burst: number;
}

export type AuthResult = { ok: true; key: AuthenticatedKey } | { ok: false; reason: "missing" | "invalid" | "revoked" };

export type { RateDecision };

const PARTNER_LIMITS = new GcraTable("partners.rate_limits", ["key_uuid"]);

export class PartnerKeyError extends Error {}

const DUMMY_HASH = hashKey("gep_0000000000000000_" + "A".repeat(43));

function toInfo(r: any): KeyInfo {
  return {
    id: r.id,
    keyId: r.key_id,
    partner: r.partner,
    ratePerMinute: r.rate_limit_per_minute,
    burst: r.burst,
    createdAt: r.created_at,
    expiresAt: r.expires_at,
    revokedAt: r.revoked_at,
    lastUsedAt: r.last_used_at,
    active: r.active,
  };
}

const SELECT_INFO = `SELECT id, key_id, partner, rate_limit_per_minute, burst, created_at, expires_at, revoked_at, last_used_at,
  (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) AS active FROM partners.api_keys`;

export interface KeySelector {
  keyId?: string;
  partner?: string;
}

/** Partner API keys in the gateway-owned `partners` schema. */
export class PartnerKeyStore {
  private constructor(private readonly ds: DataSource) {}

  static async open(databaseUrl: string, opts: { migrate?: boolean; poolSize?: number } = {}): Promise<PartnerKeyStore> {
    const { dataSource } = createDataSource({
      url: databaseUrl,
      schema: PARTNERS_SCHEMA,
      entities: [],
      migrations: partnerMigrations,
      poolSize: opts.poolSize ?? 4,
      applicationName: "gift-gateway-partners",
    });
    await dataSource.initialize();
    try {
      if (opts.migrate ?? true) await migrate(dataSource, PARTNERS_SCHEMA);
    } catch (e) {
      await dataSource.destroy();
      throw e;
    }
    return new PartnerKeyStore(dataSource);
  }

  async close(): Promise<void> {
    if (this.ds.isInitialized) await this.ds.destroy();
  }

  async create(opts: { partner: string; ratePerMinute: number; burst?: number }): Promise<{ key: string; info: KeyInfo }> {
    if (!PARTNER_NAME.test(opts.partner)) throw new PartnerKeyError("partner name must be lowercase letters, digits, - or _ (max 63)");
    if (!Number.isInteger(opts.ratePerMinute) || opts.ratePerMinute < 1) throw new PartnerKeyError("rate must be a positive integer (requests per minute)");
    const burst = opts.burst ?? Math.max(1, Math.ceil(opts.ratePerMinute / 6));
    if (!Number.isInteger(burst) || burst < 1) throw new PartnerKeyError("burst must be a positive integer");
    return this.insert(this.ds, opts.partner, opts.ratePerMinute, burst);
  }

  private async insert(q: Pick<DataSource, "query">, partner: string, rate: number, burst: number): Promise<{ key: string; info: KeyInfo }> {
    const { key, keyId } = generateKey();
    const [row] = await q.query(
      `WITH k AS (INSERT INTO partners.api_keys (key_id, partner, secret_hash, rate_limit_per_minute, burst)
         VALUES ($1, $2, $3, $4, $5) RETURNING *)
       SELECT *, true AS active FROM k`,
      [keyId, partner, hashKey(key), rate, burst],
    );
    return { key, info: toInfo(row) };
  }

  async list(partner?: string): Promise<KeyInfo[]> {
    const rows = partner
      ? await this.ds.query(`${SELECT_INFO} WHERE partner = $1 ORDER BY partner, created_at`, [partner])
      : await this.ds.query(`${SELECT_INFO} ORDER BY partner, created_at`);
    return rows.map(toInfo);
  }

  /** Active keys matching the selector: one key id, or every active key of a partner. */
  private async activeKeys(q: Pick<DataSource, "query">, sel: KeySelector, lock: boolean): Promise<KeyInfo[]> {
    if (!sel.keyId && !sel.partner) throw new PartnerKeyError("give a key id or --name <partner>");
    const where = sel.keyId ? `key_id = $1` : `partner = $1`;
    const rows = await q.query(
      `${SELECT_INFO} WHERE ${where} AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()) ORDER BY created_at${lock ? " FOR UPDATE" : ""}`,
      [sel.keyId ?? sel.partner],
    );
    return rows.map(toInfo);
  }

  /** Revokes at once: the next request with the key is refused. */
  async revoke(sel: KeySelector): Promise<KeyInfo[]> {
    return this.ds.transaction(async (m) => {
      const keys = await this.activeKeys(m, sel, true);
      if (!keys.length) throw new PartnerKeyError("no active key matches");
      const ids = keys.map((k) => k.id);
      await m.query(`UPDATE partners.api_keys SET revoked_at = now() WHERE id = ANY($1::uuid[])`, [ids]);
      const rows = await m.query(`${SELECT_INFO} WHERE id = ANY($1::uuid[]) ORDER BY created_at`, [ids]);
      return rows.map(toInfo);
    });
  }

  /**
   * Issues a replacement with the same partner and limits. The old key stops working
   * after `graceSeconds` (0: at once), so a partner can deploy the new key first.
   */
  async rotate(sel: KeySelector, graceSeconds = 0): Promise<{ key: string; info: KeyInfo; replaced: KeyInfo }> {
    if (!Number.isInteger(graceSeconds) || graceSeconds < 0) throw new PartnerKeyError("grace must be a whole number of seconds >= 0");
    return this.ds.transaction(async (m) => {
      const keys = await this.activeKeys(m, sel, true);
      if (!keys.length) throw new PartnerKeyError("no active key matches");
      if (keys.length > 1) throw new PartnerKeyError(`${keys.length} active keys match; rotate one by key id (${keys.map((k) => k.keyId).join(", ")})`);
      const old = keys[0];
      const fresh = await this.insert(m, old.partner, old.ratePerMinute, old.burst);
      if (graceSeconds === 0) {
        await m.query(`UPDATE partners.api_keys SET revoked_at = now(), replaced_by = $2 WHERE id = $1`, [old.id, fresh.info.id]);
      } else {
        await m.query(`UPDATE partners.api_keys SET expires_at = now() + make_interval(secs => $2), replaced_by = $3 WHERE id = $1`, [old.id, graceSeconds, fresh.info.id]);
      }
      const [replaced] = await m.query(`${SELECT_INFO} WHERE id = $1`, [old.id]);
      return { ...fresh, replaced: toInfo(replaced) };
    });
  }

  /**
   * Whether the key is usable now, and until when (a rotation grace period): the check of an
   * open socket's key, one indexed read. null = revoked, expired or gone.
   */
  async activeUntil(keyUuid: string): Promise<{ expiresAt: Date | null } | null> {
    const rows = await this.ds.query(
      `SELECT expires_at FROM partners.api_keys WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
      [keyUuid],
    );
    return rows.length ? { expiresAt: rows[0].expires_at } : null;
  }

  /** Verifies a presented key: constant-time hash comparison, then revocation and expiry. */
  async authenticate(presented: string | undefined): Promise<AuthResult> {
    if (!presented) return { ok: false, reason: "missing" };
    const parsed = parseKey(presented.trim());
    const rows = parsed
      ? await this.ds.query(
        `SELECT id, key_id, partner, secret_hash, rate_limit_per_minute, burst,
           (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())) AS active
         FROM partners.api_keys WHERE key_id = $1`,
        [parsed.keyId],
      )
      : [];
    const row = rows[0];
    // Compare even when no row matched, so a wrong key id and a wrong secret look alike.
    const match = timingSafeEqual(hashKey(presented.trim()), row ? Buffer.from(row.secret_hash) : DUMMY_HASH) && !!row;
    if (!match) return { ok: false, reason: "invalid" };
    if (!row.active) return { ok: false, reason: "revoked" };
    // last_used_at for operators, written at most once a minute per key.
    await this.ds.query(
      `UPDATE partners.api_keys SET last_used_at = now() WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')`,
      [row.id],
    );
    return { ok: true, key: { id: row.id, keyId: row.key_id, partner: row.partner, ratePerMinute: row.rate_limit_per_minute, burst: row.burst } };
  }

  /**
   * One request against the key's limit: GCRA (a token bucket of `burst` refilled at
   * `ratePerMinute`) in one atomic statement, so every gateway instance shares the limit
   * (the platform's one implementation, platform/gcra-table.ts).
   */
  async consume(key: AuthenticatedKey): Promise<RateDecision> {
    return PARTNER_LIMITS.take(this.ds, [key.id], { capacity: key.burst, refillPerSecond: key.ratePerMinute / 60 });
  }
}
