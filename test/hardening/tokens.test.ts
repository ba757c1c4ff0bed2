import "reflect-metadata";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuthError, mintToken, TokenVerifier } from "../../platform/auth.js";
import { loadConfig } from "../../platform/config.js";
import { startStack, type Stack } from "../support/stack.js";
import { subscribe } from "../stream/helpers.js";
import { pollUntil } from "../support/eventually.js";

/**
 * Finding 6: every user token must expire, and within JWT_MAX_LIFETIME_SECONDS (a day by
 * default). A token without `exp`, or one valid for a month, is refused over HTTP
 * (401 UNAUTHENTICATED) and over graphql-ws (close 4401).
 */
let stack: Stack;
const config = loadConfig();
const DAY = 86_400;

/** A token signed with the platform's secret, with exactly the time claims given. */
async function token(times: { iat?: number; exp?: number }, sub = "tok-alice"): Promise<string> {
  const jwt = new SignJWT({ roles: ["viewer", "host"], region: "US", adult: true })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(sub)
    .setIssuer(config.jwtIssuer)
    .setAudience(config.jwtAudience);
  if (times.iat !== undefined) jwt.setIssuedAt(times.iat);
  if (times.exp !== undefined) jwt.setExpirationTime(times.exp);
  return jwt.sign(new TextEncoder().encode(config.jwtSecret));
}
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  stack = await startStack("tokens");
});
afterAll(async () => {
  await stack?.stop();
});

async function me(t: string) {
  return stack.gql(`{ me { id } }`, {}, t);
}

async function streamOutcome(t: string): Promise<{ code: number; reason: string } | null> {
  const sub = subscribe(stack.gateway.url, t, `subscription { giftReceived(hostId: "tok-alice") { id } }`);
  await pollUntil(() => sub.closed !== null || sub.errors.length > 0, (answered) => answered, 10_000);
  const closed = sub.closed;
  await sub.dispose().catch(() => undefined);
  return closed;
}

describe("user tokens must expire", () => {
  it("refuses a token without exp over HTTP with 401 UNAUTHENTICATED", async () => {
    const res = await me(await token({ iat: now() }));
    expect(res.status).toBe(401);
    expect(res.data ?? null).toBeNull();
    expect(res.errors?.[0]).toMatchObject({ extensions: { code: "UNAUTHENTICATED" }, message: expect.stringMatching(/exp is required/) });
  });

  it("refuses a token without exp over graphql-ws with close 4401", async () => {
    expect(await streamOutcome(await token({ iat: now() }))).toMatchObject({ code: 4401, reason: expect.stringMatching(/exp is required/) });
  });

  it("refuses a 30-day token over HTTP and graphql-ws", async () => {
    const month = await token({ iat: now(), exp: now() + 30 * DAY });
    const res = await me(month);
    expect(res.status).toBe(401);
    expect(res.errors?.[0]).toMatchObject({ extensions: { code: "UNAUTHENTICATED" }, message: expect.stringMatching(/lifetime exceeds 86400 seconds/) });
    expect(await streamOutcome(month)).toMatchObject({ code: 4401, reason: expect.stringMatching(/lifetime/) });
  });

  it("measures the lifetime from now when a token has no iat, and from iat when it has one", async () => {
    expect((await me(await token({ exp: now() + 30 * DAY }))).status).toBe(401);
    expect((await me(await token({ exp: now() + 3600 }))).data).toEqual({ me: { id: "tok-alice" } });
    // Issued 23 h ago, valid for 2 h more: 25 h in all, too long even though little is left.
    expect((await me(await token({ iat: now() - 23 * 3600, exp: now() + 2 * 3600 }))).status).toBe(401);
    // A future iat does not buy a longer life: the lifetime counts from now then.
    expect((await me(await token({ iat: now() + 10 * DAY, exp: now() + 10 * DAY + 3600 }))).status).toBe(401);
  });

  it("accepts a token of exactly the maximum lifetime, and the tokens mintToken (and so `npm run token`, default --expires 12h) issue", async () => {
    expect((await me(await token({ iat: now(), exp: now() + DAY }))).data).toEqual({ me: { id: "tok-alice" } });
    expect((await me(await mintToken({ sub: "tok-minted" }))).data).toEqual({ me: { id: "tok-minted" } });
    expect((await me(await mintToken({ sub: "tok-cli" }, { expiresIn: "12h" }))).data).toEqual({ me: { id: "tok-cli" } });
  });

  it("takes its maximum from JWT_MAX_LIFETIME_SECONDS", async () => {
    expect(loadConfig({ JWT_MAX_LIFETIME_SECONDS: "3600" }).jwtMaxLifetimeSeconds).toBe(3600);
    expect(loadConfig({}).jwtMaxLifetimeSeconds).toBe(DAY);
    expect(() => loadConfig({ JWT_MAX_LIFETIME_SECONDS: "0" })).toThrow(/JWT_MAX_LIFETIME_SECONDS/);
    expect(() => loadConfig({ JWT_MAX_LIFETIME_SECONDS: "a day" })).toThrow(/JWT_MAX_LIFETIME_SECONDS/);
    const strict = new TokenVerifier({ ...config, jwtMaxLifetimeSeconds: 3600 });
    await expect(strict.verify(await token({ iat: now(), exp: now() + 2 * 3600 }))).rejects.toThrow(AuthError);
    await expect(strict.verify(await token({ iat: now(), exp: now() + 1800 }))).resolves.toMatchObject({ id: "tok-alice" });
  });
});
