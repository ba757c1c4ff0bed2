import { In, type DataSource, type Repository } from "typeorm";
import { GiftRow, CategoryRow } from "../db/index.js";

export interface GiftFilter {
  region?: string;
  category?: string;
  includeUpcoming?: boolean;
  now?: Date;
}

/** A gift is listed when active, its window has not ended, it has started (or upcoming is asked for), and it is sold in the region. */
export function isListed(g: GiftRow, f: GiftFilter): boolean {
  const now = f.now ?? new Date();
  if (g.status !== "ACTIVE") return false;
  if (g.availableUntil && g.availableUntil.getTime() <= now.getTime()) return false;
  if (!f.includeUpcoming && g.availableFrom && g.availableFrom.getTime() > now.getTime()) return false;
  if (f.region && g.regions && !g.regions.includes(f.region)) return false;
  if (f.category && g.category !== f.category) return false;
  return true;
}

export class GiftService {
  readonly gifts: Repository<GiftRow>;
  readonly categories: Repository<CategoryRow>;

  constructor(readonly dataSource: DataSource) {
    this.gifts = dataSource.getRepository(GiftRow);
    this.categories = dataSource.getRepository(CategoryRow);
  }

  async list(filter: GiftFilter): Promise<GiftRow[]> {
    const rows = await this.gifts.find({ where: { status: "ACTIVE" }, order: { sortOrder: "ASC", coinCost: "ASC" } });
    return rows.filter((g) => isListed(g, filter));
  }

  /** One SELECT for any number of ids; the result is aligned with `ids` (null when unknown). */
  async byIds(ids: readonly string[]): Promise<(GiftRow | null)[]> {
    const valid = ids.filter(isUuid);
    const rows = valid.length ? await this.gifts.find({ where: { id: In([...new Set(valid)]) } }) : [];
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async listCategories(): Promise<CategoryRow[]> {
    return this.categories.find({ order: { sortOrder: "ASC" } });
  }
}

export function isUuid(s: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);
}
