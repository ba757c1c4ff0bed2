import "reflect-metadata";
import { describe, expect, it } from "vitest";
import { DomainError, InputError } from "../../platform/errors.js";
import { checkNumbers, checkQuantity, parseSendGiftInput, type SendableGift } from "../../subgraphs/wallet/domain/gifting.js";

const GIFT = "0b6f3c1e-8f4a-4c2e-9d1a-2f3b4c5d6e7f";
const base = { giftId: GIFT, hostId: "host-1", idempotencyKey: "k-1" };
const rose: SendableGift = { id: GIFT, name: "Rose", coinCost: 1, streakable: true, sendable: true, reason: null };
const corgi: SendableGift = { ...rose, name: "Corgi", coinCost: 299, streakable: false };

const codeOf = (fn: () => unknown) => {
  try {
    fn();
    return "OK";
  } catch (e) {
    if (e instanceof DomainError) return e.code;
    // Malformed input is a domain InputError, reported to clients as BAD_USER_INPUT.
    if (e instanceof InputError) return e.code;
    throw e;
  }
};

describe("sendGift rules (domain, no GraphQL)", () => {
  it("defaults quantity to 1, lowercases the gift id and keeps optional ids null", () => {
    expect(parseSendGiftInput({ ...base, giftId: GIFT.toUpperCase() })).toEqual({
      giftId: GIFT, hostId: "host-1", liveSessionId: null, quantity: 1, comboId: null, expectedUnitCost: null, idempotencyKey: "k-1",
      message: null, anonymous: false, videoId: null,
    });
  });

  it("treats malformed ids and keys as BAD_USER_INPUT", () => {
    expect(codeOf(() => parseSendGiftInput({ ...base, giftId: "rose" }))).toBe("BAD_USER_INPUT");
    expect(codeOf(() => parseSendGiftInput({ ...base, hostId: "" }))).toBe("BAD_USER_INPUT");
    expect(codeOf(() => parseSendGiftInput({ ...base, hostId: "a\nb" }))).toBe("BAD_USER_INPUT");
    expect(codeOf(() => parseSendGiftInput({ ...base, hostId: "björn|idp 7" }))).toBe("OK");
    expect(codeOf(() => parseSendGiftInput({ ...base, comboId: "x".repeat(129) }))).toBe("BAD_USER_INPUT");
    expect(codeOf(() => parseSendGiftInput({ ...base, idempotencyKey: "" }))).toBe("BAD_USER_INPUT");
  });

  it("treats numbers out of range as INVALID_INPUT", () => {
    const n = (x: Partial<typeof base & { quantity: number; expectedUnitCost: number }>) => codeOf(() => checkNumbers(parseSendGiftInput({ ...base, ...x })));
    expect([n({ quantity: 0 }), n({ quantity: 10_000 }), n({ quantity: 1.5 }), n({ expectedUnitCost: 0 })]).toEqual(["INVALID_INPUT", "INVALID_INPUT", "INVALID_INPUT", "INVALID_INPUT"]);
    expect([n({ quantity: 1 }), n({ quantity: 9_999 }), n({ expectedUnitCost: 1 })]).toEqual(["OK", "OK", "OK"]);
  });

  it("allows 1..99 per send, and up to 9,999 only for a streakable gift in a combo", () => {
    const q = (gift: SendableGift, quantity: number, comboId: string | null = null) => codeOf(() => checkQuantity(parseSendGiftInput({ ...base, quantity, comboId }), gift));
    expect(q(corgi, 99)).toBe("OK");
    expect(q(corgi, 100)).toBe("INVALID_INPUT");
    expect(q(rose, 100)).toBe("INVALID_INPUT");
    expect(q(rose, 9_999, "c")).toBe("OK");
    expect(q(corgi, 1, "c")).toBe("INVALID_INPUT");
  });

  it("refuses a send whose cost would not fit GraphQL Int", () => {
    const universe: SendableGift = { ...rose, coinCost: 1_000_000 };
    expect(codeOf(() => checkQuantity(parseSendGiftInput({ ...base, quantity: 2147, comboId: "c" }), universe))).toBe("OK");
    expect(codeOf(() => checkQuantity(parseSendGiftInput({ ...base, quantity: 2148, comboId: "c" }), universe))).toBe("INVALID_INPUT");
  });
});
