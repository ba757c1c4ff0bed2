import { SignJWT, jwtVerify, type JWTPayload } from "jose";
import { AuthError, claimsToUser, type AuthUser, type TokenClaims } from "./auth.js";
import type { Config } from "./config.js";

/**
 * Service credentials: how a subgraph knows a request comes from the gateway or another
 * subgraph (the wallet's owner reads), not from anyone who can reach its port.
 *
 * A short-lived HS256 JWT (SERVICE_SECRET, a different secret, issuer and `typ` than user
 * tokens) with the callee as audience (`subgraph:<name>`), so a credential for the catalog
 * does not open the wallet. Why a JWT and not an HMAC over method and body: the same
 * credential has to authenticate a graphql-ws connection_init (no method, no body to bind),
 * and callers reuse one signed token per audience for half its lifetime, so a request costs
 * no signing and the subgraph's verification is cached by the exact token text (like
 * DECISIONS 43). The price: a credential seen on the wire could be replayed against that one
 * subgraph for up to SERVICE_TOKEN_LIFETIME_SECONDS; whoever can read internal traffic can
 * read the users' tokens on it as well.
 *
 * On HTTP it travels in `x-service-authorization: Bearer <jwt>` beside the end user's own
 * `authorization` (subgraphs still verify the user's token and authorize by it); on
 * graphql-ws in connection_init `{ serviceAuthorization, authorization }`. A caller that acts
 * for someone without a user token (the partner endpoint) puts the identity's claims in the
 * credential (`usr`), signed: the subgraph then sees that user.
 */
export const SERVICE_HEADER = "x-service-authorization";
export const SERVICE_PARAM = "serviceAuthorization";
export const SERVICE_ISSUER = "gift-economy-services";
export const SERVICE_TYP = "service+jwt";
/** How long one credential is valid. */
export const SERVICE_TOKEN_LIFETIME_SECONDS = 60;
/** A caller mints a fresh credential when the cached one has less than this left. */
const REUSE_UNTIL_LEFT_SECONDS = 30;

export type SubgraphAudience = "wallet" | "catalog" | "earnings";
/** Who signs: the gateway (HTTP data sources, the upstream stream) or a subgraph calling an owner. */
export type ServiceCaller = "gateway" | SubgraphAudience;

export function audienceOf(subgraph: string): string {
  return `subgraph:${subgraph}`;
}

/** An identity a signed caller vouches for (claims as in a user token; `exp` is required). */
export interface SignedIdentity extends TokenClaims {
  exp: number;
}

/** Signs credentials for one caller; one cached credential per audience. */
export class ServiceSigner {
  private readonly key: Uint8Array;
  private readonly cached = new Map<string, { token: Promise<string>; refreshAt: number }>();

  constructor(
    config: Pick<Config, "serviceSecret">,
    readonly caller: ServiceCaller,
  ) {
    this.key = new TextEncoder().encode(config.serviceSecret);
  }

  /** A credential for `subgraph` (reused while more than half its lifetime is left). */
  token(subgraph: string): Promise<string> {
    const now = Date.now();
    const hit = this.cached.get(subgraph);
    if (hit && hit.refreshAt > now) return hit.token;
    const token = this.sign(subgraph);
    this.cached.set(subgraph, { token, refreshAt: now + (SERVICE_TOKEN_LIFETIME_SECONDS - REUSE_UNTIL_LEFT_SECONDS) * 1000 });
    // A failed signature is not reused.
    token.catch(() => this.cached.delete(subgraph));
    return token;
  }

  /** The `x-service-authorization` header value for a request to `subgraph`. */
  async header(subgraph: string): Promise<string> {
    return `Bearer ${await this.token(subgraph)}`;
  }

  /** A one-off credential that also carries an identity the caller vouches for (never cached). */
  async tokenFor(subgraph: string, identity: SignedIdentity): Promise<string> {
    return this.sign(subgraph, identity);
  }

  /**
   * connection_init of an upstream graphql-ws connection: the service credential plus the end
   * user's identity (their own token, verified again by the subgraph, or signed claims).
   */
  async connectionParams(subgraph: string, viewer: { authorization?: string; identity?: SignedIdentity }): Promise<Record<string, string>> {
    const credential = viewer.identity ? await this.tokenFor(subgraph, viewer.identity) : await this.token(subgraph);
    return { [SERVICE_PARAM]: `Bearer ${credential}`, ...(viewer.authorization ? { authorization: viewer.authorization } : {}) };
  }

  private sign(subgraph: string, identity?: SignedIdentity): Promise<string> {
    const claims: JWTPayload = identity
      ? {
        usr: {
          sub: identity.sub,
          name: identity.name ?? identity.sub,
          roles: identity.roles ?? ["viewer"],
          region: identity.region ?? "US",
          adult: identity.adult ?? false,
          exp: identity.exp,
        },
      }
      : {};
    return new SignJWT(claims)
      .setProtectedHeader({ alg: "HS256", typ: SERVICE_TYP })
      .setIssuer(SERVICE_ISSUER)
      .setSubject(this.caller)
      .setAudience(audienceOf(subgraph))
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + SERVICE_TOKEN_LIFETIME_SECONDS)
      .sign(this.key);
  }
}

/** A verified service credential. */
export interface VerifiedService {
  caller: string;
  /** The identity the caller vouches for, when it sent one instead of a user token. */
  identity: AuthUser | null;
}

/** Verifies credentials addressed to one subgraph (the callee side). */
export class ServiceVerifier {
  private readonly key: Uint8Array;
  private readonly audience: string;
  /** Verified credentials by exact text until their exp (callers reuse one for ~30 s). Bounded. */
  private readonly verified = new Map<string, { service: VerifiedService; until: number }>();
  static readonly VERIFIED_MAX = 1_000;

  constructor(config: Pick<Config, "serviceSecret">, subgraph: string) {
    this.key = new TextEncoder().encode(config.serviceSecret);
    this.audience = audienceOf(subgraph);
  }

  /** Accepts the header / connection_init value `Bearer <jwt>`; throws AuthError when missing or invalid. */
  async fromHeader(header: string | undefined | null): Promise<VerifiedService> {
    if (!header) throw new AuthError("this service answers only signed callers (the gateway, owner-read clients): service credential missing");
    const match = /^Bearer\s+(\S+)$/i.exec(header.trim());
    if (!match) throw new AuthError("service credential must be 'Bearer <token>'");
    return this.verify(match[1]);
  }

  async verify(token: string): Promise<VerifiedService> {
    const now = Date.now();
    const hit = this.verified.get(token);
    if (hit) {
      if (hit.until > now) return hit.service;
      this.verified.delete(token);
    }
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        issuer: SERVICE_ISSUER,
        audience: this.audience,
        algorithms: ["HS256"],
        typ: SERVICE_TYP,
        requiredClaims: ["exp", "iat", "sub"],
        // A credential is short-lived by construction: refuse one minted for longer (a leaked secret's forgeries stay short).
        maxTokenAge: SERVICE_TOKEN_LIFETIME_SECONDS + 5,
        // Callers and subgraphs run on different hosts: a few seconds of clock skew must not fail calls.
        clockTolerance: 5,
      }));
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new AuthError(code === "ERR_JWT_EXPIRED" ? "service credential expired" : "invalid service credential");
    }
    if (payload.exp! - payload.iat! > SERVICE_TOKEN_LIFETIME_SECONDS + 5) throw new AuthError("invalid service credential: lifetime too long");
    let identity: AuthUser | null = null;
    if (payload.usr !== undefined) {
      const usr = payload.usr as JWTPayload;
      if (!usr || typeof usr !== "object" || typeof usr.exp !== "number") throw new AuthError("invalid service credential: identity");
      if (usr.exp * 1000 <= now) throw new AuthError("the identity in the service credential has expired");
      identity = claimsToUser(usr);
    }
    const service: VerifiedService = { caller: String(payload.sub), identity };
    // Identity-carrying credentials are one-off (connection_init): no point caching them.
    if (!identity) {
      if (this.verified.size >= ServiceVerifier.VERIFIED_MAX) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { service, until: Math.min(payload.exp! * 1000, now + SERVICE_TOKEN_LIFETIME_SECONDS * 1000) });
    }
    return service;
  }
}
