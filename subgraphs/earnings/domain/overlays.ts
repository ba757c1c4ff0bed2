import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, badInput } from "../../../platform/errors.js";
import type { CreatorService } from "./creators.js";
import { appendTestGift, type FeedRow } from "./feed.js";
import { isUuid } from "./sessions.js";
import { rows } from "./sql.js";

/** NOTIFY channel: payload is the revoked token's id; every earnings instance closes its sockets for it. */
export const OVERLAY_REVOKED_CHANNEL = "earnings_overlay_revoked";
/** Active overlay tokens a host may hold at once (one per OBS scene is plenty). */
export const MAX_OVERLAY_TOKENS = 20;
export const MAX_TEST_GIFT_QUANTITY = 99;
const TOKEN_PREFIX = "ovl_";
const TOKEN_PATTERN = /^ovl_[A-Za-z0-9_-]{43}$/;

export interface OverlayTokenRow {
  id: string;
  hostId: string;
  createdAt: Date;
  revokedAt: Date | null;
}

/** What an overlay connection may do: read this host's giftReceived stream, nothing else. */
export interface OverlayGrant {
  tokenId: string;
  hostId: string;
}

const hash = (token: string) => createHash("sha256").update(token).digest("hex");
const toRow = (r: Record<string, any>): OverlayTokenRow => ({ id: r.id, hostId: r.host_id, createdAt: r.created_at, revokedAt: r.revoked_at });

/**
 * Overlay tokens: long-lived, revocable, read-only credentials for an OBS browser source
 * (which cannot refresh a user's JWT). Only a SHA-256 of each token is stored; the token
 * is shown once, at creation.
 */
export class OverlayService {
  constructor(
    private readonly ds: DataSource,
    private readonly creators: CreatorService,
    /** The web app's base URL (WEB_APP_URL): overlay links point at its /overlay page. */
    private readonly webAppUrl: string,
  ) {}

  /**
   * The overlay's absolute URL; the token rides in the fragment, which browsers never send to a server.
   * The host id (public) rides there too: the overlay reads the host's goals with a public query.
   */
  urlFor(token: string, hostId: string): string {
    return `${this.webAppUrl}/overlay#token=${encodeURIComponent(token)}&host=${encodeURIComponent(hostId)}`;
  }

  async create(user: AuthUser): Promise<{ token: string; row: OverlayTokenRow }> {
    await this.creators.ensure(user);
    const token = TOKEN_PREFIX + randomBytes(32).toString("base64url");
    // Count and insert serialized per host by the creator row lock: the bound holds under races.
    return this.ds.transaction(async (m) => {
      await m.query(`SELECT 1 FROM earnings.creators WHERE id = $1 FOR UPDATE`, [user.id]);
      const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM earnings.overlay_tokens WHERE host_id = $1 AND revoked_at IS NULL`, [user.id]);
      if (n >= MAX_OVERLAY_TOKENS) throw new DomainError(ErrorCode.TOO_MANY_OVERLAY_TOKENS, `at most ${MAX_OVERLAY_TOKENS} active overlay tokens; revoke one first`);
      const [r] = await m.query(`INSERT INTO earnings.overlay_tokens (host_id, token_hash) VALUES ($1, $2) RETURNING id, host_id, created_at, revoked_at`, [user.id, hash(token)]);
      return { token, row: toRow(r) };
    });
  }

  /** Revokes one of the host's tokens (revoking a revoked one returns it unchanged); open overlays close via NOTIFY. */
  async revoke(user: AuthUser, id: string): Promise<OverlayTokenRow> {
    if (!isUuid(id)) throw badInput("id is not an overlay token id", ["input", "id"]);
    return this.ds.transaction(async (m) => {
      const [found] = await m.query(`SELECT id, host_id, created_at, revoked_at FROM earnings.overlay_tokens WHERE id = $1`, [id]);
      // Someone else's token looks like no token.
      if (!found || (found.host_id !== user.id && !user.roles.includes("admin"))) throw new DomainError(ErrorCode.NOT_FOUND, "no such overlay token");
      const [updated] = await rows(m, `UPDATE earnings.overlay_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id, host_id, created_at, revoked_at`, [id]);
      // Transactional: listeners hear it at commit, never for a rolled-back revoke.
      await m.query(`SELECT pg_notify($1, $2)`, [OVERLAY_REVOKED_CHANNEL, id]);
      return toRow(updated ?? found);
    });
  }

  async list(hostId: string): Promise<OverlayTokenRow[]> {
    const found = await this.ds.query(
      `SELECT id, host_id, created_at, revoked_at FROM earnings.overlay_tokens WHERE host_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC LIMIT $2`,
      [hostId, MAX_OVERLAY_TOKENS],
    );
    return found.map(toRow);
  }

  /** The grant for a presented token; null when malformed, unknown or revoked. */
  async verify(token: unknown): Promise<OverlayGrant | null> {
    if (typeof token !== "string" || !TOKEN_PATTERN.test(token)) return null;
    const [r] = await this.ds.query(`SELECT id, host_id FROM earnings.overlay_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, [hash(token)]);
    return r ? { tokenId: r.id, hostId: r.host_id } : null;
  }

  /** Which of these token ids are still active (re-check after the revocation listener reconnects). */
  async active(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const found: { id: string }[] = await this.ds.query(`SELECT id FROM earnings.overlay_tokens WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL`, [[...ids]]);
    return new Set(found.map((r) => r.id));
  }

  /** A test gift on the host's own stream and overlay (see appendTestGift: it moves and counts nothing). */
  async sendTestGift(user: AuthUser, giftId: string, quantity: number): Promise<FeedRow> {
    if (giftId.length < 1 || giftId.length > 128) throw badInput("giftId is not a gift id", ["input", "giftId"]);
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_TEST_GIFT_QUANTITY) {
      throw badInput(`quantity must be between 1 and ${MAX_TEST_GIFT_QUANTITY}`, ["input", "quantity"]);
    }
    await this.creators.ensure(user);
    return this.ds.transaction((m) => appendTestGift(m, { id: `test:${randomUUID()}`, hostId: user.id, giftId, quantity }));
  }
}
