import "reflect-metadata";
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { signPayload, verifySignature } from "../../platform/signature.js";
import { isTightening } from "../../subgraphs/wallet/domain/recharge-limits.js";
import { publicFailureCode } from "../../subgraphs/wallet/domain/payments/provider.js";
import { decodeCursor, encodeCursor } from "../../subgraphs/wallet/domain/history.js";
import { loadWalletConfig } from "../../subgraphs/wallet/config.js";

const body = Buffer.from('{"id":"evt_1","type":"payment.succeeded"}');

describe("webhook signature rules (pure)", () => {
  it("accepts its own signature within the window and rejects everything else", () => {
    const t = 1_800_000_000;
    const header = signPayload("s3cret", body, t);
    expect(verifySignature("s3cret", header, body, t + 299)).toEqual({ ok: true, timestamp: t });
    expect(verifySignature("s3cret", header, body, t + 301)).toEqual({ ok: false, reason: "stale" });
    expect(verifySignature("s3cret", header, body, t - 301)).toEqual({ ok: false, reason: "stale" });
    expect(verifySignature("other", header, body, t)).toEqual({ ok: false, reason: "mismatch" });
    expect(verifySignature("s3cret", undefined, body, t)).toEqual({ ok: false, reason: "missing" });
    expect(verifySignature("s3cret", "t=abc,v1=zz", body, t)).toEqual({ ok: false, reason: "malformed" });
  });

  it("any single-byte change of the body breaks the signature", () => {
    const t = 1_800_000_000;
    const header = signPayload("s3cret", body, t);
    fc.assert(
      fc.property(fc.nat(body.length - 1), fc.integer({ min: 1, max: 255 }), (i, delta) => {
        const tampered = Buffer.from(body);
        tampered[i] = (tampered[i] + delta) % 256;
        return verifySignature("s3cret", header, tampered, t).ok === false;
      }),
    );
  });
});

describe("spending limit rules (pure)", () => {
  const lim = (period: "DAY" | "WEEK" | "MONTH", amountMinor: number, currency = "USD") => ({ period, amountMinor, currency });
  it("setting a first limit or lowering one is a tightening; raising, shortening the window, changing currency or removing is not", () => {
    expect(isTightening(null, lim("DAY", 1000))).toBe(true);
    expect(isTightening(lim("DAY", 1000), lim("DAY", 500))).toBe(true);
    expect(isTightening(lim("DAY", 1000), lim("WEEK", 1000))).toBe(true);
    expect(isTightening(lim("DAY", 1000), lim("DAY", 1001))).toBe(false);
    expect(isTightening(lim("WEEK", 1000), lim("DAY", 1000))).toBe(false);
    expect(isTightening(lim("DAY", 1000), lim("DAY", 500, "EUR"))).toBe(false);
    expect(isTightening(lim("DAY", 1000), null)).toBe(false);
    expect(isTightening(null, null)).toBe(true);
  });
});

describe("small rules", () => {
  it("declines are shown without revealing fraud signals", () => {
    expect(publicFailureCode("insufficient_funds")).toBe("INSUFFICIENT_FUNDS");
    expect(publicFailureCode("expired_card")).toBe("EXPIRED_CARD");
    for (const c of ["stolen_card", "lost_card", "fraudulent", undefined]) expect(publicFailureCode(c)).toBe("CARD_DECLINED");
  });

  it("history cursors round-trip and forged ones are BAD_USER_INPUT", () => {
    expect(decodeCursor(encodeCursor("12345"))).toBe("12345");
    expect(() => decodeCursor(Buffer.from("le:1 OR 1=1").toString("base64url"))).toThrow(/cursor/);
  });

  it("configuration: tests get a quiet sandbox, development a self-settling one, and bad numbers are refused", () => {
    expect(loadWalletConfig({ NODE_ENV: "test" })).toMatchObject({ sandboxAutoWebhooks: false, sandboxAutoSettleMs: null, reconcileEveryMs: 0 });
    expect(loadWalletConfig({})).toMatchObject({ sandboxAutoWebhooks: true, sandboxAutoSettleMs: 3000, reconcileEveryMs: 30_000, velocity: { maxOrdersPerHour: 10 } });
    expect(() => loadWalletConfig({ WALLET_MAX_ORDERS_PER_HOUR: "-1" })).toThrow(/non-negative/);
  });
});
