import type { DataSource, EntityManager } from "typeorm";
import { DomainError, ErrorCode, UserError, ValidationFailed } from "../../../platform/errors.js";
import { isUuid, type GiftRecord, type GiftService } from "./gifts.js";
import type { PricePeriod } from "./prices.js";

export const MIN_COIN_COST = 1;
export const MAX_COIN_COST = 1_000_000;
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const REGION = /^[A-Z]{2}$/;
const ASSET_PATH = /^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/;

export interface GiftFields {
  slug: string;
  name: string;
  description: string;
  coinCost: number;
  category: string;
  imageUrl: string;
  animationUrl: string | null;
  streakable: boolean;
  availableFrom: Date | null;
  availableUntil: Date | null;
  regions: string[] | null;
  sortOrder: number | null;
}

/** Omitted (undefined) fields are kept; null clears the nullable ones. */
export type GiftPatch = Partial<GiftFields> & { priceNote?: string | null };

export interface ScheduleInput {
  giftId: string;
  coinCost: number;
  effectiveAt: Date;
  note?: string | null;
}

class Collector {
  errors: UserError[] = [];
  add(code: ErrorCode, message: string, field: string[]): void {
    this.errors.push(Object.assign(new UserError(), { code, message, field }));
  }
  throwIfAny(): void {
    if (this.errors.length) throw new ValidationFailed(this.errors);
  }
}

const err = (code: ErrorCode, message: string, field: string[]) => Object.assign(new UserError(), { code, message, field });

export class GiftAdminService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly gifts: GiftService,
    private readonly cdnBaseUrl: string,
  ) {}

  /**
   * Accepts a path relative to the CDN base ("rose.png") or a full URL under the configured CDN
   * base; stores the path so that moving the CDN is a configuration change. Other hosts are refused.
   */
  assetPath(value: string): string | null {
    const v = value.trim();
    const base = `${this.cdnBaseUrl}/`;
    const path = v.startsWith(base) ? v.slice(base.length) : v;
    if (!ASSET_PATH.test(path) || path.includes("..") || path.length > 300) return null;
    return path;
  }

  private async validate(m: EntityManager, f: Partial<GiftFields>, c: Collector, field: (k: string) => string[], now: Date, creating: boolean): Promise<void> {
    if (f.slug != null && !SLUG.test(f.slug)) c.add(ErrorCode.INVALID_INPUT, "slug must be 1-63 lowercase letters, digits or dashes, starting with a letter or digit", field("slug"));
    if (f.name != null && (f.name.trim().length < 1 || f.name.length > 100)) c.add(ErrorCode.INVALID_INPUT, "name must be 1 to 100 characters", field("name"));
    if (f.description != null && f.description.length > 500) c.add(ErrorCode.INVALID_INPUT, "description must be at most 500 characters", field("description"));
    if (f.coinCost != null && !(Number.isInteger(f.coinCost) && f.coinCost >= MIN_COIN_COST && f.coinCost <= MAX_COIN_COST))
      c.add(ErrorCode.INVALID_INPUT, `coinCost must be a whole number from ${MIN_COIN_COST} to ${MAX_COIN_COST.toLocaleString("en-US")}`, field("coinCost"));
    if (f.imageUrl != null && this.assetPath(f.imageUrl) === null)
      c.add(ErrorCode.INVALID_INPUT, `imageUrl must be a path on the CDN (e.g. "rose.png") or a URL under ${this.cdnBaseUrl}/`, field("imageUrl"));
    if (f.animationUrl != null && this.assetPath(f.animationUrl) === null)
      c.add(ErrorCode.INVALID_INPUT, `animationUrl must be a path on the CDN (e.g. "rose.webm") or a URL under ${this.cdnBaseUrl}/`, field("animationUrl"));
    if (f.sortOrder != null && !(Number.isInteger(f.sortOrder) && f.sortOrder >= 0 && f.sortOrder <= 1_000_000))
      c.add(ErrorCode.INVALID_INPUT, "sortOrder must be from 0 to 1,000,000", field("sortOrder"));
    if (f.availableFrom && f.availableUntil && f.availableUntil.getTime() <= f.availableFrom.getTime())
      c.add(ErrorCode.INVALID_INPUT, "availableUntil must be after availableFrom (the window is [availableFrom, availableUntil))", field("availableUntil"));
    else if (creating && f.availableUntil && f.availableUntil.getTime() <= now.getTime())
      c.add(ErrorCode.INVALID_INPUT, "availableUntil is already in the past: the gift could never be sent", field("availableUntil"));
    if (f.category != null) {
      const [known] = await m.query(`SELECT 1 AS ok FROM catalog.categories WHERE key = $1`, [f.category]);
      if (!known) {
        const keys = (await m.query(`SELECT key FROM catalog.categories ORDER BY sort_order, key`)).map((r: { key: string }) => r.key);
        c.add(ErrorCode.UNKNOWN_CATEGORY, `unknown category "${f.category}"; known: ${keys.join(", ")}`, field("category"));
      }
    }
    if (f.regions != null) {
      if (f.regions.length === 0) c.add(ErrorCode.INVALID_INPUT, "regions must not be empty; use null for everywhere", field("regions"));
      const wellFormed = f.regions.filter((r) => REGION.test(r));
      const known = wellFormed.length
        ? new Set((await m.query(`SELECT code FROM catalog.regions WHERE code = ANY($1::text[])`, [wellFormed])).map((r: { code: string }) => r.code))
        : new Set<string>();
      const unknown = f.regions.filter((r) => !known.has(r));
      if (unknown.length) c.add(ErrorCode.UNKNOWN_REGION, `unknown region(s): ${unknown.join(", ")} (ISO 3166 alpha-2 codes of markets we sell in)`, field("regions"));
    }
  }

  async createGift(input: GiftFields, adminId: string): Promise<GiftRecord> {
    const id = await this.dataSource.transaction(async (m) => {
      const [{ now }] = await m.query(`SELECT now() AS now`);
      const c = new Collector();
      const fields = { ...input, regions: input.regions ? [...new Set(input.regions)] : null };
      await this.validate(m, fields, c, (k) => ["input", k], now, true);
      if (!c.errors.some((e) => e.field?.[1] === "slug")) {
        const [taken] = await m.query(`SELECT 1 AS x FROM catalog.gifts WHERE slug = $1`, [fields.slug]);
        if (taken) c.add(ErrorCode.SLUG_TAKEN, `slug "${fields.slug}" is already used by another gift`, ["input", "slug"]);
      }
      c.throwIfAny();
      let rows: { id: string }[];
      try {
        rows = await m.query(
          `INSERT INTO catalog.gifts (slug, name, description, category, image_path, animation_path, streakable,
                                      available_from, available_until, regions, sort_order)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[],
                   COALESCE($11::int, (SELECT COALESCE(max(sort_order), 0) + 10 FROM catalog.gifts)))
           RETURNING id`,
          [fields.slug, fields.name.trim(), fields.description ?? "", fields.category, this.assetPath(fields.imageUrl),
           fields.animationUrl ? this.assetPath(fields.animationUrl) : null, fields.streakable, fields.availableFrom,
           fields.availableUntil, fields.regions, fields.sortOrder],
        );
      } catch (e) {
        // Two admins creating the same slug at once: the unique index decides.
        if ((e as { code?: string }).code === "23505") throw new ValidationFailed([err(ErrorCode.SLUG_TAKEN, `slug "${fields.slug}" is already used by another gift`, ["input", "slug"])]);
        throw e;
      }
      await m.query(
        `INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason, changed_by) VALUES ($1, $2, now(), 'INITIAL', $3)`,
        [rows[0].id, fields.coinCost, adminId],
      );
      return rows[0].id;
    });
    return (await this.gifts.byIds([id]))[0]!;
  }

  async updateGift(id: string, patch: GiftPatch, adminId: string): Promise<GiftRecord> {
    if (!isUuid(id)) throw new DomainError(ErrorCode.NOT_FOUND, "no such gift", { field: ["input", "id"] });
    await this.dataSource.transaction(async (m) => {
      // Serializes with other edits and price changes of this gift.
      const [row] = await m.query(`SELECT * FROM catalog.gifts WHERE id = $1 FOR UPDATE`, [id]);
      if (!row) throw new DomainError(ErrorCode.NOT_FOUND, "no such gift", { field: ["input", "id"] });
      const [{ now }] = await m.query(`SELECT now() AS now`);
      const merged = {
        availableFrom: patch.availableFrom !== undefined ? patch.availableFrom : row.available_from,
        availableUntil: patch.availableUntil !== undefined ? patch.availableUntil : row.available_until,
      };
      const c = new Collector();
      const regions = patch.regions ? [...new Set(patch.regions)] : patch.regions;
      await this.validate(m, { ...patch, ...merged, regions }, c, (k) => ["input", k], now, false);
      if (patch.slug !== undefined && patch.slug !== row.slug && !c.errors.some((e) => e.field?.[1] === "slug")) {
        const [taken] = await m.query(`SELECT 1 AS x FROM catalog.gifts WHERE slug = $1 AND id <> $2`, [patch.slug, id]);
        if (taken) c.add(ErrorCode.SLUG_TAKEN, `slug "${patch.slug}" is already used by another gift`, ["input", "slug"]);
      }
      if (patch.name === null || patch.slug === null || patch.coinCost === null || patch.category === null || patch.imageUrl === null || patch.streakable === null || patch.description === null)
        c.add(ErrorCode.INVALID_INPUT, "slug, name, description, coinCost, category, imageUrl and streakable cannot be cleared", ["input"]);
      c.throwIfAny();

      const sets: string[] = [];
      const params: unknown[] = [id];
      const set = (col: string, v: unknown, cast = "") => {
        params.push(v);
        sets.push(`${col} = $${params.length}${cast}`);
      };
      if (patch.slug !== undefined) set("slug", patch.slug);
      if (patch.name !== undefined) set("name", patch.name!.trim());
      if (patch.description !== undefined) set("description", patch.description);
      if (patch.category !== undefined) set("category", patch.category);
      if (patch.imageUrl !== undefined) set("image_path", this.assetPath(patch.imageUrl!));
      if (patch.animationUrl !== undefined) set("animation_path", patch.animationUrl ? this.assetPath(patch.animationUrl) : null);
      if (patch.streakable !== undefined) set("streakable", patch.streakable);
      if (patch.availableFrom !== undefined) set("available_from", patch.availableFrom);
      if (patch.availableUntil !== undefined) set("available_until", patch.availableUntil);
      if (patch.regions !== undefined) set("regions", regions, "::text[]");
      if (patch.sortOrder != null) set("sort_order", patch.sortOrder);
      if (sets.length) {
        try {
          await m.query(`UPDATE catalog.gifts SET ${sets.join(", ")}, updated_at = now() WHERE id = $1`, params);
        } catch (e) {
          if ((e as { code?: string }).code === "23505") throw new ValidationFailed([err(ErrorCode.SLUG_TAKEN, `slug "${patch.slug}" is already used by another gift`, ["input", "slug"])]);
          throw e;
        }
      }
      if (patch.coinCost !== undefined) {
        const [current] = await m.query(
          `SELECT coin_cost FROM catalog.gift_prices WHERE gift_id = $1 AND effective_from <= clock_timestamp() ORDER BY effective_from DESC LIMIT 1`,
          [id],
        );
        if (current?.coin_cost !== patch.coinCost) {
          // clock_timestamp() after the row lock: immediate changes are ordered as they were serialized.
          // Milliseconds: the precision clients see and send back (priceAt(validFrom) must find this period).
          await m.query(
            `INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason, note, changed_by)
             VALUES ($1, $2, date_trunc('milliseconds', clock_timestamp()), 'UPDATE', $3, $4)
             ON CONFLICT (gift_id, effective_from) DO UPDATE SET coin_cost = EXCLUDED.coin_cost, reason = 'UPDATE', note = EXCLUDED.note, changed_by = EXCLUDED.changed_by`,
            [id, patch.coinCost, patch.priceNote ?? null, adminId],
          );
        }
      }
    });
    return (await this.gifts.byIds([id]))[0]!;
  }

  /** Records a price that takes effect at `effectiveAt` (in the future). Retrying the same schedule is a no-op. */
  async schedulePrice(input: ScheduleInput, adminId: string): Promise<{ gift: GiftRecord; periodId: string }> {
    if (!isUuid(input.giftId)) throw new DomainError(ErrorCode.NOT_FOUND, "no such gift", { field: ["input", "giftId"] });
    const periodId = await this.dataSource.transaction(async (m) => {
      const [row] = await m.query(`SELECT status FROM catalog.gifts WHERE id = $1 FOR UPDATE`, [input.giftId]);
      if (!row) throw new DomainError(ErrorCode.NOT_FOUND, "no such gift", { field: ["input", "giftId"] });
      const c = new Collector();
      if (!(Number.isInteger(input.coinCost) && input.coinCost >= MIN_COIN_COST && input.coinCost <= MAX_COIN_COST))
        c.add(ErrorCode.INVALID_INPUT, `coinCost must be a whole number from ${MIN_COIN_COST} to ${MAX_COIN_COST.toLocaleString("en-US")}`, ["input", "coinCost"]);
      const [{ future }] = await m.query(`SELECT $1::timestamptz > clock_timestamp() AS future`, [input.effectiveAt]);
      if (!future) c.add(ErrorCode.INVALID_INPUT, "effectiveAt must be in the future; use updateGift(coinCost) for an immediate change", ["input", "effectiveAt"]);
      if (input.note != null && input.note.length > 500) c.add(ErrorCode.INVALID_INPUT, "note must be at most 500 characters", ["input", "note"]);
      c.throwIfAny();
      if (row.status !== "ACTIVE") throw new DomainError(ErrorCode.INVALID_STATE, "the gift is retired; its price can no longer change", { field: ["input", "giftId"] });
      const [existing] = await m.query(`SELECT id, coin_cost FROM catalog.gift_prices WHERE gift_id = $1 AND effective_from = $2`, [input.giftId, input.effectiveAt]);
      if (existing) {
        if (existing.coin_cost === input.coinCost) return String(existing.id);
        throw new DomainError(ErrorCode.PRICE_ALREADY_SCHEDULED, `a price of ${existing.coin_cost} coins is already scheduled at that instant; cancel it first`, { field: ["input", "effectiveAt"] });
      }
      const [inserted] = await m.query(
        `INSERT INTO catalog.gift_prices (gift_id, coin_cost, effective_from, reason, note, changed_by) VALUES ($1, $2, $3, 'SCHEDULED', $4, $5) RETURNING id`,
        [input.giftId, input.coinCost, input.effectiveAt, input.note ?? null, adminId],
      );
      return String(inserted.id);
    });
    return { gift: (await this.gifts.byIds([input.giftId]))[0]!, periodId };
  }

  /** Cancels a scheduled price change that has not taken effect yet (history that happened is never edited). */
  async cancelScheduledPrice(periodId: string): Promise<GiftRecord> {
    if (!/^[0-9]{1,18}$/.test(periodId)) throw new DomainError(ErrorCode.NOT_FOUND, "no such scheduled price", { field: ["id"] });
    const giftId = await this.dataSource.transaction(async (m) => {
      const [p] = await m.query(`SELECT gift_id FROM catalog.gift_prices WHERE id = $1`, [periodId]);
      if (!p) throw new DomainError(ErrorCode.NOT_FOUND, "no such scheduled price", { field: ["id"] });
      await m.query(`SELECT 1 FROM catalog.gifts WHERE id = $1 FOR UPDATE`, [p.gift_id]);
      const deleted = await m.query(
        `DELETE FROM catalog.gift_prices WHERE id = $1 AND reason = 'SCHEDULED' AND effective_from > clock_timestamp() RETURNING id`,
        [periodId],
      );
      // TypeORM answers DELETE ... RETURNING as [rows, count] (or plain rows, depending on version).
      const count = Array.isArray(deleted[0]) ? Number(deleted[1]) : deleted.length;
      if (count === 0)
        throw new DomainError(ErrorCode.INVALID_STATE, "only a scheduled change that has not taken effect yet can be cancelled", { field: ["id"] });
      return p.gift_id as string;
    });
    return (await this.gifts.byIds([giftId]))[0]!;
  }

  /** Retires a gift: never listed or sendable again; still resolvable. Retiring twice is a no-op. */
  async retireGift(id: string): Promise<GiftRecord> {
    if (!isUuid(id)) throw new DomainError(ErrorCode.NOT_FOUND, "no such gift", { field: ["id"] });
    const rows = await this.dataSource.query(
      `UPDATE catalog.gifts SET status = 'RETIRED', updated_at = now() WHERE id = $1 AND status <> 'RETIRED' RETURNING id`,
      [id],
    );
    const [gift] = await this.gifts.byIds([id]);
    if (!gift) throw new DomainError(ErrorCode.NOT_FOUND, "no such gift", { field: ["id"] });
    void rows;
    return gift;
  }
}

export type { PricePeriod };
