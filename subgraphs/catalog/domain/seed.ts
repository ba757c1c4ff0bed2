import type { DataSource } from "typeorm";

export const SEED_CATEGORIES = [
  { key: "BASIC", name: "Basic", sortOrder: 1 },
  { key: "PREMIUM", name: "Premium", sortOrder: 2 },
  { key: "SPECIAL", name: "Special", sortOrder: 3 },
  { key: "EVENT", name: "Event", sortOrder: 4 },
];

// [slug, name, coinCost, category, streakable]
export const SEED_GIFTS: [string, string, number, string, boolean][] = [
  ["rose", "Rose", 1, "BASIC", true],
  ["finger-heart", "Finger Heart", 5, "BASIC", true],
  ["perfume", "Perfume", 20, "BASIC", true],
  ["doughnut", "Doughnut", 30, "BASIC", true],
  ["confetti", "Confetti", 100, "BASIC", false],
  ["hand-hearts", "Hand Hearts", 100, "BASIC", false],
  ["sunglasses", "Sunglasses", 199, "PREMIUM", false],
  ["corgi", "Corgi", 299, "PREMIUM", false],
  ["money-gun", "Money Gun", 500, "PREMIUM", false],
  ["swan", "Swan", 699, "PREMIUM", false],
  ["train", "Train", 899, "PREMIUM", false],
  ["galaxy", "Galaxy", 1000, "PREMIUM", false],
  ["fireworks", "Fireworks", 1088, "SPECIAL", false],
  ["private-jet", "Private Jet", 4888, "SPECIAL", false],
  ["sports-car", "Sports Car", 7000, "SPECIAL", false],
  ["interstellar", "Interstellar", 10000, "SPECIAL", false],
  ["planet", "Planet", 15000, "SPECIAL", false],
  ["rocket", "Rocket", 20000, "SPECIAL", false],
  ["dragon-flame", "Dragon Flame", 26999, "SPECIAL", false],
  ["lion", "Lion", 29999, "SPECIAL", false],
  ["universe", "Universe", 44999, "SPECIAL", false],
];

/**
 * Limited-time EVENT gifts: windows are relative to the day the catalog is seeded (so a fresh
 * development database always has one running event), half-open [from, until).
 * [slug, name, coinCost, startDayOffset, lengthDays, regions (null = everywhere)]
 */
export const SEED_EVENT_GIFTS: [string, string, number, number, number, string[] | null][] = [
  ["winter-lantern", "Winter Lantern", 150, 0, 30, null],
  ["lucky-cat", "Lucky Cat", 88, 0, 14, ["JP", "TW", "HK", "SG"]],
];

/** Seeds categories and gifts (each with its initial price period) when the catalog is empty; idempotent. */
export async function seedCatalog(ds: DataSource): Promise<boolean> {
  return ds.transaction(async (m) => {
    await m.query(`SELECT pg_advisory_xact_lock(hashtext('seed:catalog'))`);
    const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM catalog.gifts`);
    if (n > 0) return false;
    for (const c of SEED_CATEGORIES) {
      await m.query(`INSERT INTO catalog.categories (key, name, sort_order) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, [c.key, c.name, c.sortOrder]);
    }
    let order = 0;
    const insert = async (slug: string, name: string, coinCost: number, category: string, streakable: boolean, window: { fromDays: number; days: number; regions: string[] | null } | null) => {
      order += 10;
      const [{ id }] = await m.query(
        `INSERT INTO catalog.gifts (slug, name, description, category, image_path, animation_path, streakable, sort_order,
                                    available_from, available_until, regions)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                 CASE WHEN $9::int IS NULL THEN NULL ELSE date_trunc('day', now()) + make_interval(days => $9::int) END,
                 CASE WHEN $9::int IS NULL THEN NULL ELSE date_trunc('day', now()) + make_interval(days => $9::int + $10::int) END,
                 $11::text[])
         RETURNING id`,
        [slug, name, `${name} gift`, category, `${slug}.svg`, coinCost >= 100 ? `${slug}-animation.svg` : null, streakable, order,
         window?.fromDays ?? null, window?.days ?? null, window?.regions ?? null],
      );
      // The initial price is in force from the gift's creation (now() = created_at in this transaction).
      await m.query(`INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason, note) VALUES ($1, $2, now(), 'INITIAL', 'seed')`, [id, coinCost]);
    };
    for (const [slug, name, coinCost, category, streakable] of SEED_GIFTS) await insert(slug, name, coinCost, category, streakable, null);
    for (const [slug, name, coinCost, fromDays, days, regions] of SEED_EVENT_GIFTS) await insert(slug, name, coinCost, "EVENT", false, { fromDays, days, regions });
    return true;
  });
}
