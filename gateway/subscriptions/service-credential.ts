import { mintToken } from "../../platform/auth.js";

/**
 * The credential the gateway presents upstream for a SHARED room subscription (one upstream for
 * every viewer of a public feed, so no viewer's token can be used: it would end the room when that
 * viewer's token expires, and earnings must not see one viewer as the whole room).
 *
 * Until the service credential of the edge-hardening work lands, this follows the partner
 * endpoint's pattern (DECISIONS 26): a short-lived HS256 token the gateway mints with the shared
 * JWT secret, subject `service:gateway`, role viewer (the public feed needs a signed-in caller and
 * nothing more). Swap the body of this one function for the service credential. With an external
 * identity provider (JWKS_URL) the subgraphs cannot verify it: that setup needs the service
 * credential.
 */
const TTL_SECONDS = 3600;
/** Re-minted when less than this is left, so a (re)connect never presents an almost expired token. */
const REFRESH_BEFORE_SECONDS = 600;
let cached: { authorization: string; exp: number } | null = null;

export async function upstreamServiceAuthorization(nowMs = Date.now()): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  if (cached && cached.exp - now > REFRESH_BEFORE_SECONDS) return cached.authorization;
  const token = await mintToken({ sub: "service:gateway", name: "gateway", roles: ["viewer"], adult: false }, { expiresIn: `${TTL_SECONDS}s` });
  cached = { authorization: `Bearer ${token}`, exp: now + TTL_SECONDS };
  return cached.authorization;
}
