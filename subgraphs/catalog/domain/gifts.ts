import type { DataSource } from "typeorm";
import { GiftRow, CategoryRow } from "../db/index.js";

/** A gift as the catalog serves it: its row plus the price in force at `now` (from the price periods). */
export interface GiftRecord {
  id: string;
  slug: string;
  name: string;
  description: string;
  category: string;
  imagePath: string;
  animationPath: string | null;
  streakable: boolean;
  availableFrom: Date | null;
  availableUntil: Date | null;
  regions: string[] | null;
  status: "ACTIVE" | "RETIRED";
  sortOrder: number;
  createdAt: Date;
  updatedAt: Date;
  /** Price in force at `now`. */
  coinCost: number;
  /** When the price in force started. */
  priceFrom: Date;
  /** The next scheduled price change after `now`, if any. */
  nextPriceAt: Date | null;
  /** The instant this record was computed for (the database's clock unless a time was given). */
  now: Date;
}

export interface GiftFilter {
  region?: string | null;
  category?: string | null;
  includeUpcoming?: boolean;
  /** Evaluate at this instant instead of the database's now() (tests, "as of" reads). */
  at?: Date;
}

export type NotSendableReason = "RETIRED" | "NOT_STARTED" | "ENDED" | "NOT_IN_REGION";

export interface Sendability {
  sendable: boolean;
  reason: NotSendableReason | null;
  /** Until this instant the answer (price and sendability) cannot change without a write to the catalog; null = no known boundary. */
  stableUntil: Date | null;
}

/**
 * Windows are half-open: a gift is sendable from `availableFrom` (inclusive) until
 * `availableUntil` (exclusive), so back-to-back events never overlap or leave a gap.
 */
export function sendability(g: Pick<GiftRecord, "status" | "availableFrom" | "availableUntil" | "regions" | "nextPriceAt">, region: string, now: Date): Sendability {
  const t = now.getTime();
  const boundaries = [g.availableFrom, g.availableUntil, g.nextPriceAt].filter((d): d is Date => d !== null && d.getTime() > t);
  const stableUntil = boundaries.length ? new Date(Math.min(...boundaries.map((d) => d.getTime()))) : null;
  let reason: NotSendableReason | null = null;
  if (g.status !== "ACTIVE") reason = "RETIRED";
  else if (g.availableUntil && g.availableUntil.getTime() <= t) reason = "ENDED";
  else if (g.availableFrom && g.availableFrom.getTime() > t) reason = "NOT_STARTED";
  else if (g.regions && !g.regions.includes(region)) reason = "NOT_IN_REGION";
  return { sendable: reason === null, reason, stableUntil };
}

/** Listing rule (the SQL in GiftService.list is the same rule, kept in one place for reading): */
export function isListed(g: Pick<GiftRecord, "status" | "availableFrom" | "availableUntil" | "regions" | "category">, f: GiftFilter, now: Date): boolean {
  const t = now.getTime();
  if (g.status !== "ACTIVE") return false;
  if (g.availableUntil && g.availableUntil.getTime() <= t) return false;
  if (!f.includeUpcoming && g.availableFrom && g.availableFrom.getTime() > t) return false;
  if (f.region && g.regions && !g.regions.includes(f.region)) return false;
  if (f.category && g.category !== f.category) return false;
  return true;
}

// One statement: gifts with the price in force at t.now and the next scheduled change, both
// answered by the (gift_id, effective_from) unique index.
const GIFT_SELECT = `
  SELECT g.id, g.slug, g.name, g.description, g.category, g.image_path, g.animation_path, g.streakable,
         g.available_from, g.available_until, g.regions, g.status, g.sort_order, g.created_at, g.updated_at,
         p.coin_cost, p.effective_from AS price_from, nx.effective_from AS next_price_at, t.now
    FROM (SELECT COALESCE($1::timestamptz, now()) AS now) t
   CROSS JOIN catalog.gifts g
    JOIN LATERAL (SELECT coin_cost, effective_from FROM catalog.gift_prices
                   WHERE gift_id = g.id AND effective_from <= t.now ORDER BY effective_from DESC LIMIT 1) p ON true
    LEFT JOIN LATERAL (SELECT effective_from FROM catalog.gift_prices
                   WHERE gift_id = g.id AND effective_from > t.now ORDER BY effective_from LIMIT 1) nx ON true`;

export function toRecord(r: any): GiftRecord {
  return {
    id: r.id,
    slug: r.slug,
    name: r.name,
    description: r.description,
    category: r.category,
    imagePath: r.image_path,
    animationPath: r.animation_path,
    streakable: r.streakable,
    availableFrom: r.available_from,
    availableUntil: r.available_until,
    regions: r.regions,
    status: r.status,
    sortOrder: r.sort_order,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    coinCost: r.coin_cost,
    priceFrom: r.price_from,
    nextPriceAt: r.next_price_at,
    now: r.now,
  };
}

export class GiftService {
  constructor(readonly dataSource: DataSource) {}

  /** Listed gifts in display order (sort order, then current price). */
  async list(filter: GiftFilter): Promise<GiftRecord[]> {
    const rows = await this.dataSource.query(
      `${GIFT_SELECT}
        WHERE g.status = 'ACTIVE'
          AND (g.available_until IS NULL OR g.available_until > t.now)
          AND ($4::boolean OR g.available_from IS NULL OR g.available_from <= t.now)
          AND ($2::text IS NULL OR g.regions IS NULL OR $2::text = ANY(g.regions))
          AND ($3::text IS NULL OR g.category = $3::text)
        ORDER BY g.sort_order, p.coin_cost, g.slug`,
      [filter.at ?? null, filter.region ?? null, filter.category ?? null, filter.includeUpcoming ?? false],
    );
    return rows.map(toRecord);
  }

  /** One SELECT for any number of ids; the result is aligned with `ids` (null when unknown). */
  async byIds(ids: readonly string[], at?: Date): Promise<(GiftRecord | null)[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    const rows: GiftRecord[] = valid.length ? (await this.dataSource.query(`${GIFT_SELECT} WHERE g.id = ANY($2::uuid[])`, [at ?? null, valid])).map(toRecord) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async bySlug(slug: string): Promise<GiftRecord | null> {
    const rows = await this.dataSource.query(`${GIFT_SELECT} WHERE g.slug = $2`, [null, slug]);
    return rows.length ? toRecord(rows[0]) : null;
  }

  async listRegions(): Promise<{ code: string; name: string }[]> {
    return this.dataSource.query(`SELECT code, name FROM catalog.regions ORDER BY code`);
  }

  async listCategories(): Promise<CategoryRow[]> {
    return this.dataSource.getRepository(CategoryRow).find({ order: { sortOrder: "ASC", key: "ASC" } });
  }
}

export function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}

export { GiftRow };
