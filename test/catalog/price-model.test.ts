import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startCatalogOnly } from "./support.js";

let env: Awaited<ReturnType<typeof startCatalogOnly>>;
beforeAll(async () => {
  env = await startCatalogOnly("catmodel");
});
afterAll(async () => {
  await env?.stop();
});

const BASE = Date.parse("2030-01-01T00:00:00.000Z");

describe("the price in force agrees with a model of the periods at every instant (randomized)", () => {
  it("priceAt, priceHistory and the gift's coinCost-at-instant all equal 'the latest period that started at or before t'", async () => {
    const gift = await env.catalog.services.admin.createGift(
      { slug: "model-gift", name: "Model", description: "", coinCost: 1, category: "BASIC", imageUrl: "m.png", animationUrl: null, streakable: false, availableFrom: null, availableUntil: null, regions: null, sortOrder: null },
      "admin-1",
    );
    const { prices, gifts } = env.catalog.services;
    await fc.assert(
      fc.asyncProperty(
        fc.uniqueArray(fc.integer({ min: 0, max: 10_000 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 1, max: 1_000_000 }), { minLength: 12, maxLength: 12 }),
        fc.array(fc.integer({ min: -5, max: 10_005 }), { minLength: 1, maxLength: 15 }),
        async (offsets, costs, probes) => {
          // Periods of this run live after BASE; the INITIAL period (created now, before BASE) stays.
          await env.catalog.dataSource.query(`DELETE FROM catalog.gift_prices WHERE gift_id = $1 AND effective_from >= $2`, [gift.id, new Date(BASE)]);
          const periods = offsets.map((o, i) => ({ from: BASE + o, cost: costs[i] })).sort((a, b) => a.from - b.from);
          for (const p of periods) {
            await env.catalog.dataSource.query(`INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason) VALUES ($1, $2, $3, 'SCHEDULED')`, [gift.id, p.cost, new Date(p.from)]);
          }
          const model = (t: number) => {
            let cost = 1; // the INITIAL price, in force before BASE
            let until: number | null = periods[0].from;
            for (let i = 0; i < periods.length; i++) {
              if (periods[i].from <= t) {
                cost = periods[i].cost;
                until = periods[i + 1]?.from ?? null;
              }
            }
            return { cost, until };
          };
          // Random instants plus every boundary and the millisecond before it.
          const instants = [...probes.map((p) => BASE + p), ...periods.flatMap((p) => [p.from, p.from - 1])].map((t) => new Date(t));
          const answers = await prices.at(instants.map((at) => ({ giftId: gift.id, at })));
          for (let i = 0; i < instants.length; i++) {
            const m = model(instants[i].getTime());
            expect(answers[i]?.coinCost).toBe(m.cost);
            expect(answers[i]?.validUntil?.getTime() ?? null).toBe(m.until);
            const [g] = await gifts.byIds([gift.id], instants[i]);
            expect(g!.coinCost).toBe(m.cost);
            expect(g!.nextPriceAt?.getTime() ?? null).toBe(m.until);
          }
          const [history] = await prices.historyFor([gift.id]);
          for (let i = 0; i + 1 < history.length; i++) expect(history[i].validUntil).toEqual(history[i + 1].validFrom);
          expect(history[history.length - 1].validUntil).toBeNull();
        },
      ),
      { numRuns: 40 },
    );
  });
});
