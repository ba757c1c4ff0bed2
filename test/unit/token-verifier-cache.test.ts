import { afterEach, describe, expect, it, vi } from "vitest";
import { AuthError, mintToken, TokenVerifier } from "../../platform/auth.js";

/** The verified-token cache (a performance fix) must never accept what a fresh verification refuses. */
const config = { jwtSecret: "a-test-secret-that-is-long-enough-0123456789", jwtIssuer: "gift-economy-idp", jwtAudience: "gift-economy", jwksUrl: undefined };
const mint = (expiresIn: string | number = "1h") => mintToken({ sub: "alice", roles: ["viewer", "host"], region: "DE" }, { secret: config.jwtSecret, expiresIn });

afterEach(() => {
  vi.useRealTimers();
});

describe("TokenVerifier cache", () => {
  it("answers a token verified before with the same user", async () => {
    const v = new TokenVerifier(config);
    const token = await mint();
    const first = await v.verify(token);
    const second = await v.verify(token);
    expect(second).toEqual(first);
    expect(second).toMatchObject({ id: "alice", roles: ["viewer", "host"], region: "DE" });
  });

  it("refuses a cached token once it has expired", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-11-23T12:00:00Z"));
    const v = new TokenVerifier(config);
    const token = await mint("60s");
    await expect(v.verify(token)).resolves.toMatchObject({ id: "alice" });
    vi.setSystemTime(new Date("2026-11-23T12:01:01Z"));
    await expect(v.verify(token)).rejects.toThrow(AuthError);
    await expect(v.verify(token)).rejects.toThrow("token expired");
  });

  it("refuses an altered copy of a cached token (the cache is keyed by the whole token, signature included)", async () => {
    const v = new TokenVerifier(config);
    const token = await mint();
    await v.verify(token);
    const [h, p, sig] = token.split(".");
    const forgedPayload = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, "base64url").toString()), roles: ["admin"] })).toString("base64url");
    await expect(v.verify(`${h}.${forgedPayload}.${sig}`)).rejects.toThrow(AuthError);
    const flipped = sig.slice(0, -2) + (sig.endsWith("AA") ? "BB" : "AA");
    await expect(v.verify(`${h}.${p}.${flipped}`)).rejects.toThrow(AuthError);
  });

  it("hands out copies: a caller mutating its user cannot change what the next request sees", async () => {
    const v = new TokenVerifier(config);
    const token = await mint();
    const u = await v.verify(token);
    u.roles.push("admin");
    u.id = "mallory";
    expect(await v.verify(token)).toMatchObject({ id: "alice", roles: ["viewer", "host"] });
  });

  it("does not share entries between verifiers with different secrets", async () => {
    const token = await mint();
    await new TokenVerifier(config).verify(token);
    await expect(new TokenVerifier({ ...config, jwtSecret: "another-secret-that-is-long-enough-9876543210" }).verify(token)).rejects.toThrow(AuthError);
  });
});
