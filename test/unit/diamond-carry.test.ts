import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_PERIOD_FROM, DEFAULT_SHARE_BPS, diamondsAdded, periodAt } from "../../subgraphs/earnings/domain/revenue.js";

const floorShare = (coins: bigint, bps: number) => (coins * BigInt(bps)) / 10_000n;

describe("diamondsAdded: a gift's diamonds with the remainder carried", () => {
  it("pays floor(Σ coins × share) after every gift of a period, each gift between floor and ceil of its own share (property, seeded)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 1_000_000_000 })), { minLength: 1, maxLength: 60 }),
        (bps, gifts) => {
          let coins = 0n;
          let paid = 0n;
          for (const c of gifts) {
            const d = diamondsAdded(coins, c, bps);
            expect(d).toBeGreaterThanOrEqual(Number(floorShare(BigInt(c), bps)));
            expect(d).toBeLessThanOrEqual(Math.ceil((c * bps) / 10_000));
            coins += BigInt(c);
            paid += BigInt(d);
            expect(paid).toBe(floorShare(coins, bps));
          }
        },
      ),
      { seed: 46, numRuns: 300 },
    );
  });

  it("stays exact past 2^53 coins × share (a period's running total)", () => {
    const before = 2n ** 53n; // × 5000 bps is far beyond Number's integers
    expect(diamondsAdded(before, 1, 5000)).toBe(0);
    expect(diamondsAdded(before + 1n, 1, 5000)).toBe(1);
  });

  it("gives 50 diamonds for 101 one-coin Roses at 50% (0, 1, 0, 1, …), where per-gift flooring gave 0", () => {
    const each = Array.from({ length: 101 }, (_, i) => diamondsAdded(BigInt(i), 1, 5000));
    expect(each.reduce((a, b) => a + b, 0)).toBe(50);
    expect(each.slice(0, 4)).toEqual([0, 1, 0, 1]);
  });
});

describe("periodAt: the share period a gift falls in", () => {
  const history = [
    { effectiveFrom: new Date("2026-01-10T00:00:00.123Z"), shareBps: 7000, fromKey: "2026-01-10 00:00:00.123456+00" },
    { effectiveFrom: new Date("2026-02-10T00:00:00.000Z"), shareBps: 3333, fromKey: "2026-02-10 00:00:00+00" },
  ];
  it("is the default before the first override, then each override from its start (inclusive), keyed by its stored start", () => {
    expect(periodAt(history, new Date("2026-01-10T00:00:00.122Z"))).toEqual({ from: DEFAULT_PERIOD_FROM, shareBps: DEFAULT_SHARE_BPS });
    expect(periodAt(history, new Date("2026-01-10T00:00:00.123Z"))).toEqual({ from: "2026-01-10 00:00:00.123456+00", shareBps: 7000 });
    expect(periodAt(history, new Date("2026-02-09T23:59:59.999Z"))).toEqual({ from: "2026-01-10 00:00:00.123456+00", shareBps: 7000 });
    expect(periodAt(history, new Date("2026-02-10T00:00:00.000Z"))).toEqual({ from: "2026-02-10 00:00:00+00", shareBps: 3333 });
  });
});
