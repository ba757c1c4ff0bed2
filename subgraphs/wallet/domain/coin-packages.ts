import type { DataSource } from "typeorm";
import { DomainError, ErrorCode, UserError, ValidationFailed } from "../../../platform/errors.js";
import { minorUnitDigits } from "../../../platform/money.js";
import { MAX_CUSTOM_COINS, normalizeRegion, packageId as defaultPackageId } from "./regions.js";
import type { RegionInfo } from "./recharge.js";
import { iso, PACKAGES_SQL, PROMOTION_SQL, toPeriod, toPromotion, toRecord, type AuditRecord, type PackageRecord, type PricePeriod, type PromotionRecord, type Q } from "./coin-package-reads.js";

/**
 * Coin packages and promotions managed by admins (DECISIONS 48).
 *
 * Prices live in periods (`wallet.coin_package_prices`, one row per change, in force until the
 * next row starts), so the price in force at any instant is one indexed lookup and a scheduled
 * price takes effect by being read, with no cron (as the catalog's gift prices, DECISIONS 14).
 * An order stores the amount it was quoted when it is created, so a recharge in flight keeps
 * its price whatever happens to the package afterwards. Every admin change writes an
 * append-only `wallet.coin_package_audit` row (actor, at, action, reason, detail) in the same
 * transaction as the change.
 */

/** Largest price of one package, in minor units: what GraphQL's Int (Money.amountMinor) can carry. */
export const MAX_PACKAGE_PRICE_MINOR = 2_147_483_647;
/**
 * A package's price per coin must lie within this factor of the region's reference price (the
 * custom-amount rate). It catches the minor-unit mistakes a form invites — 16000 for ¥160
 * (JPY has no minor unit) or 99 meaning $99 — while leaving room for real discounts.
 */
export const PRICE_SANITY_FACTOR = 4;
export const MAX_REASON_LENGTH = 500;
export const MAX_PROMOTION_DAYS = 366;
const PACKAGE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface CreatePackageInput {
  id?: string | null;
  region: string;
  coins: number;
  amountMinor: number;
  currency: string;
  sortOrder?: number | null;
  reason: string;
}

export interface RepriceInput {
  packageId: string;
  amountMinor: number;
  currency: string;
  /** Omitted: at once. Otherwise a future instant (a scheduled price). */
  effectiveAt?: Date | null;
  reason: string;
}

export interface PromotionInput {
  coins: number;
  /** null: every region that sells a package of that size. */
  regions?: string[] | null;
  bonusCoins: number;
  startsAt?: Date | null;
  endsAt: Date;
  reason: string;
}

const err = (code: ErrorCode, message: string, field: string[]) => Object.assign(new UserError(), { code, message, field });

function checkReason(c: UserError[], reason: string | null | undefined): string {
  const r = (reason ?? "").trim();
  if (r.length === 0 || r.length > MAX_REASON_LENGTH) c.push(err(ErrorCode.INVALID_INPUT, `reason must be 1..${MAX_REASON_LENGTH} characters (it is kept in the audit trail)`, ["input", "reason"]));
  return r;
}

/**
 * Validates a package price in its region's currency: integer minor units (JPY has none: yen),
 * the region's own currency, and within PRICE_SANITY_FACTOR of the region's per-coin reference.
 */
export function checkPrice(c: UserError[], region: RegionInfo, coins: number, amountMinor: number, currency: string): void {
  const cur = (currency ?? "").trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(cur)) {
    c.push(err(ErrorCode.INVALID_INPUT, "currency must be an ISO 4217 code such as USD or JPY", ["input", "currency"]));
    return;
  }
  if (cur !== region.currency) {
    c.push(err(ErrorCode.INVALID_INPUT, `${region.region} sells in ${region.currency}, not ${cur}`, ["input", "currency"]));
    return;
  }
  const digits = minorUnitDigits(cur);
  const unit = digits === 0 ? `whole ${cur} (${cur} has no minor unit)` : `minor units of ${cur} (1/${10 ** digits})`;
  if (!Number.isSafeInteger(amountMinor) || amountMinor < 1 || amountMinor > MAX_PACKAGE_PRICE_MINOR) {
    c.push(err(ErrorCode.INVALID_INPUT, `amountMinor must be an integer 1..${MAX_PACKAGE_PRICE_MINOR}, in ${unit}`, ["input", "amountMinor"]));
    return;
  }
  if (!Number.isSafeInteger(coins) || coins < 1) return; // reported by the caller
  // Compare amountMinor / coins with customPriceMinor / customPriceCoins, in integers (BigInt: no float, no overflow).
  const lhs = BigInt(amountMinor) * BigInt(region.customPriceCoins);
  const ref = BigInt(region.customPriceMinor) * BigInt(coins);
  const f = BigInt(PRICE_SANITY_FACTOR);
  if (lhs * f < ref || lhs > ref * f) {
    const reference = (ref + BigInt(region.customPriceCoins) / 2n) / BigInt(region.customPriceCoins);
    c.push(
      err(
        ErrorCode.INVALID_INPUT,
        `${amountMinor} is not a plausible price for ${coins} coins in ${region.region}: amountMinor is in ${unit}; the reference price is about ${reference} (allowed: within ×${PRICE_SANITY_FACTOR})`,
        ["input", "amountMinor"],
      ),
    );
  }
}

async function audit(m: Q, a: { actor: string; action: string; packageId?: string | null; campaignId?: string | null; reason: string; detail: Record<string, unknown> }): Promise<void> {
  await m.query(`INSERT INTO wallet.coin_package_audit (actor, action, package_id, campaign_id, reason, detail) VALUES ($1, $2, $3, $4, $5, $6)`, [
    a.actor,
    a.action,
    a.packageId ?? null,
    a.campaignId ?? null,
    a.reason,
    JSON.stringify(a.detail),
  ]);
}

export class CoinPackageService {
  constructor(
    private readonly ds: DataSource,
    private readonly regionOf: (code: string, m: Q) => Promise<RegionInfo | null>,
  ) {}

  /** Any package (retired ones too), priced at `at`. */
  async get(id: string, at = new Date(), m: Q = this.ds): Promise<PackageRecord | null> {
    if (!PACKAGE_ID.test(id)) return null;
    const [row] = await m.query(`${PACKAGES_SQL} WHERE p.id = $1`, [id, at]);
    return row ? toRecord(row) : null;
  }

  /** Admin list: a region's packages including retired ones. */
  async list(region: string, includeRetired: boolean, at = new Date()): Promise<PackageRecord[]> {
    const rows = await this.ds.query(`${PACKAGES_SQL} WHERE p.region = $1 AND ($3 OR p.active) ORDER BY p.active DESC, p.sort_order, p.coins`, [region, at, includeRetired]);
    return rows.map(toRecord);
  }

  async create(actor: string, input: CreatePackageInput): Promise<PackageRecord> {
    const c: UserError[] = [];
    const reason = checkReason(c, input.reason);
    const code = normalizeRegion(input.region);
    const region = code ? await this.regionOf(code, this.ds) : null;
    if (!code) c.push(err(ErrorCode.INVALID_INPUT, "region must be an ISO 3166 alpha-2 code", ["input", "region"]));
    else if (!region) c.push(err(ErrorCode.UNKNOWN_REGION, `coins are not sold in region ${code}`, ["input", "region"]));
    if (!Number.isSafeInteger(input.coins) || input.coins < 1 || input.coins > MAX_CUSTOM_COINS) {
      c.push(err(ErrorCode.INVALID_INPUT, `coins must be 1..${MAX_CUSTOM_COINS}`, ["input", "coins"]));
    }
    if (region) checkPrice(c, region, input.coins, input.amountMinor, input.currency);
    const id = input.id ?? (code ? defaultPackageId(code, input.coins) : "");
    if (input.id !== undefined && input.id !== null && !PACKAGE_ID.test(input.id)) c.push(err(ErrorCode.INVALID_INPUT, "id must be 1..64 characters of A-Z a-z 0-9 _ -", ["input", "id"]));
    const sortOrder = input.sortOrder ?? input.coins;
    if (!Number.isInteger(sortOrder) || Math.abs(sortOrder) > 1_000_000_000) c.push(err(ErrorCode.INVALID_INPUT, "sortOrder must be an integer within ±1,000,000,000", ["input", "sortOrder"]));
    if (c.length) throw new ValidationFailed(c);

    return this.ds.transaction(async (m) => {
      const inserted = await m.query(
        `INSERT INTO wallet.coin_packages (id, region, coins, sort_order, created_by) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [id, region!.region, input.coins, sortOrder, actor],
      );
      if (inserted.length === 0) {
        // A retried create (same package, same price) is answered with the package, unchanged.
        const existing = await this.get(id, new Date(), m);
        if (existing && existing.region === region!.region && existing.coins === input.coins && existing.priceMinor === input.amountMinor && existing.active) return existing;
        throw new DomainError(ErrorCode.PACKAGE_ID_TAKEN, `package id ${id} is taken; give another id`, { field: ["input", "id"] });
      }
      await m.query(
        `INSERT INTO wallet.coin_package_prices (package_id, price_minor, currency, effective_from, reason, note, changed_by)
         VALUES ($1, $2, $3, date_trunc('milliseconds', clock_timestamp()), 'INITIAL', $4, $5)`,
        [id, input.amountMinor, region!.currency, reason, actor],
      );
      await audit(m, { actor, action: "CREATE", packageId: id, reason, detail: { region: region!.region, coins: input.coins, amountMinor: input.amountMinor, currency: region!.currency, sortOrder } });
      return (await this.get(id, new Date(), m))!;
    });
  }

  /**
   * Changes a package's price, at once or at a future instant. An immediate change starts at
   * clock_timestamp() taken under the package's row lock (truncated to ms, what clients see), so
   * concurrent changes are ordered as they were serialized. The same price again is a no-op.
   */
  async reprice(actor: string, input: RepriceInput): Promise<{ pkg: PackageRecord; period: PricePeriod }> {
    const c: UserError[] = [];
    const reason = checkReason(c, input.reason);
    const current = await this.get(input.packageId);
    if (!current) throw new DomainError(ErrorCode.NOT_FOUND, `no coin package ${input.packageId}`, { field: ["input", "packageId"] });
    const region = (await this.regionOf(current.region, this.ds))!;
    checkPrice(c, region, current.coins, input.amountMinor, input.currency);
    if (c.length) throw new ValidationFailed(c);
    if (!current.active) throw new DomainError(ErrorCode.INVALID_STATE, `coin package ${current.id} is retired`, { field: ["input", "packageId"] });

    return this.ds.transaction(async (m) => {
      await m.query(`SELECT 1 FROM wallet.coin_packages WHERE id = $1 FOR UPDATE`, [current.id]);
      let from: string;
      if (input.effectiveAt) {
        const [{ future }] = await m.query(`SELECT $1::timestamptz > clock_timestamp() AS future`, [input.effectiveAt]);
        if (!future) throw new ValidationFailed([err(ErrorCode.INVALID_INPUT, "effectiveAt must be in the future (omit it to change the price at once)", ["input", "effectiveAt"])]);
        const [same] = await m.query(`SELECT price_minor FROM wallet.coin_package_prices WHERE package_id = $1 AND effective_from = date_trunc('milliseconds', $2::timestamptz)`, [current.id, input.effectiveAt]);
        if (same) {
          if (Number(same.price_minor) !== input.amountMinor) throw new DomainError(ErrorCode.PRICE_ALREADY_SCHEDULED, "another price is already scheduled at that instant", { field: ["input", "effectiveAt"] });
          return { pkg: (await this.get(current.id, new Date(), m))!, period: (await this.priceAt(current.id, input.effectiveAt, m))! };
        }
        const [r] = await m.query(
          `INSERT INTO wallet.coin_package_prices (package_id, price_minor, currency, effective_from, reason, note, changed_by)
           VALUES ($1, $2, $3, date_trunc('milliseconds', $4::timestamptz), 'SCHEDULED', $5, $6) RETURNING effective_from`,
          [current.id, input.amountMinor, region.currency, input.effectiveAt, reason, actor],
        );
        from = iso(r.effective_from)!;
        await audit(m, { actor, action: "SCHEDULE_PRICE", packageId: current.id, reason, detail: { amountMinor: input.amountMinor, currency: region.currency, effectiveAt: from } });
      } else {
        const [now] = await m.query(
          `SELECT price_minor FROM wallet.coin_package_prices WHERE package_id = $1 AND effective_from <= clock_timestamp() ORDER BY effective_from DESC LIMIT 1`,
          [current.id],
        );
        if (Number(now.price_minor) === input.amountMinor) {
          return { pkg: (await this.get(current.id, new Date(), m))!, period: (await this.priceAt(current.id, new Date(), m))! };
        }
        const [r] = await m.query(
          `INSERT INTO wallet.coin_package_prices (package_id, price_minor, currency, effective_from, reason, note, changed_by)
           VALUES ($1, $2, $3, date_trunc('milliseconds', clock_timestamp()), 'REPRICE', $4, $5) RETURNING effective_from`,
          [current.id, input.amountMinor, region.currency, reason, actor],
        );
        from = iso(r.effective_from)!;
        await audit(m, { actor, action: "REPRICE", packageId: current.id, reason, detail: { fromAmountMinor: Number(now.price_minor), amountMinor: input.amountMinor, currency: region.currency, effectiveAt: from } });
      }
      return { pkg: (await this.get(current.id, new Date(), m))!, period: (await this.priceAt(current.id, new Date(from), m))! };
    });
  }

  /** Takes a package off sale. Orders already placed keep their price; retiring twice returns it unchanged. */
  async retire(actor: string, packageId: string, reasonIn: string): Promise<PackageRecord> {
    const c: UserError[] = [];
    const reason = checkReason(c, reasonIn);
    if (c.length) throw new ValidationFailed(c);
    return this.ds.transaction(async (m) => {
      const changed = await m.query(
        `WITH u AS (UPDATE wallet.coin_packages SET active = false, retired_at = now(), retired_by = $2 WHERE id = $1 AND retired_at IS NULL RETURNING id) SELECT id FROM u`,
        [packageId, actor],
      );
      const pkg = await this.get(packageId, new Date(), m);
      if (!pkg) throw new DomainError(ErrorCode.NOT_FOUND, `no coin package ${packageId}`, { field: ["input", "packageId"] });
      if (changed.length) await audit(m, { actor, action: "RETIRE", packageId, reason, detail: {} });
      return pkg;
    });
  }

  /** The price period in force at `at` (null before the package existed). */
  async priceAt(packageId: string, at: Date, m: Q = this.ds): Promise<PricePeriod | null> {
    const rows = await m.query(
      `SELECT x.*, r.locale FROM (
         SELECT pp.*, lead(effective_from) OVER (ORDER BY effective_from) AS valid_until FROM wallet.coin_package_prices pp WHERE package_id = $1) x
         JOIN wallet.coin_packages p ON p.id = x.package_id JOIN wallet.regions r ON r.region = p.region
        WHERE x.effective_from <= $2 ORDER BY x.effective_from DESC LIMIT 1`,
      [packageId, at],
    );
    return rows[0] ? toPeriod(rows[0]) : null;
  }

  /** Periods oldest first; `includeScheduled` adds the ones that have not started (admins). */
  async priceHistory(packageId: string, includeScheduled: boolean): Promise<PricePeriod[]> {
    const rows = await this.ds.query(
      `SELECT x.*, r.locale FROM (
         SELECT pp.*, lead(effective_from) OVER (ORDER BY effective_from) AS valid_until FROM wallet.coin_package_prices pp WHERE package_id = $1) x
         JOIN wallet.coin_packages p ON p.id = x.package_id JOIN wallet.regions r ON r.region = p.region
        WHERE $2 OR x.effective_from <= clock_timestamp() ORDER BY x.effective_from`,
      [packageId, includeScheduled],
    );
    const periods = rows.map(toPeriod);
    // Non-admins never learn of a scheduled change: the current period reads "until further notice".
    if (!includeScheduled && periods.length) periods[periods.length - 1].validUntil = null;
    return periods;
  }

  /**
   * Schedules bonus coins on the packages of one size in the given regions (null: every region
   * selling that size) for [startsAt, endsAt). One campaign id covers all of them.
   */
  async schedulePromotion(actor: string, input: PromotionInput): Promise<PromotionRecord> {
    const c: UserError[] = [];
    const reason = checkReason(c, input.reason);
    if (!Number.isSafeInteger(input.coins) || input.coins < 1) c.push(err(ErrorCode.INVALID_INPUT, "coins must be a positive integer (the package size)", ["input", "coins"]));
    if (!Number.isSafeInteger(input.bonusCoins) || input.bonusCoins < 1 || input.bonusCoins > input.coins) {
      c.push(err(ErrorCode.INVALID_INPUT, "bonusCoins must be 1..coins (a bonus never exceeds the package)", ["input", "bonusCoins"]));
    }
    const starts = input.startsAt ?? new Date();
    if (!(input.endsAt > starts)) c.push(err(ErrorCode.INVALID_INPUT, "endsAt must be after startsAt", ["input", "endsAt"]));
    else if (input.endsAt.getTime() - starts.getTime() > MAX_PROMOTION_DAYS * 86_400_000) c.push(err(ErrorCode.INVALID_INPUT, `a promotion lasts at most ${MAX_PROMOTION_DAYS} days`, ["input", "endsAt"]));
    if (input.endsAt.getTime() <= Date.now()) c.push(err(ErrorCode.INVALID_INPUT, "endsAt must be in the future", ["input", "endsAt"]));
    let regions: string[] | null = null;
    if (input.regions !== undefined && input.regions !== null) {
      regions = [...new Set(input.regions.map((r) => normalizeRegion(r) ?? `?${r}`))];
      if (regions.length === 0 || regions.length > 50) c.push(err(ErrorCode.INVALID_INPUT, "regions must list 1..50 regions (or be null for every region)", ["input", "regions"]));
      for (const r of regions) {
        if (r.startsWith("?")) c.push(err(ErrorCode.INVALID_INPUT, `${r.slice(1)} is not an ISO 3166 alpha-2 code`, ["input", "regions"]));
        else if (!(await this.regionOf(r, this.ds))) c.push(err(ErrorCode.UNKNOWN_REGION, `coins are not sold in region ${r}`, ["input", "regions"]));
      }
    }
    if (c.length) throw new ValidationFailed(c);

    return this.ds.transaction(async (m) => {
      const pkgs: { id: string; region: string }[] = await m.query(
        `SELECT id, region FROM wallet.coin_packages WHERE coins = $1 AND active AND ($2::text[] IS NULL OR region = ANY($2::text[])) ORDER BY region FOR UPDATE`,
        [input.coins, regions],
      );
      if (pkgs.length === 0) throw new DomainError(ErrorCode.NOT_FOUND, `no active ${input.coins}-coin package in ${regions ? regions.join(", ") : "any region"}`, { field: ["input", "coins"] });
      if (regions) {
        const missing = regions.filter((r) => !pkgs.some((p) => p.region.trim() === r));
        if (missing.length) throw new DomainError(ErrorCode.NOT_FOUND, `no active ${input.coins}-coin package in ${missing.join(", ")}`, { field: ["input", "regions"] });
      }
      const [{ id }] = await m.query(`SELECT gen_random_uuid()::text AS id`);
      for (const p of pkgs) {
        await m.query(
          `INSERT INTO wallet.coin_promotions (package_id, bonus_coins, starts_at, ends_at, campaign_id, created_by, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [p.id, input.bonusCoins, starts, input.endsAt, id, actor, reason],
        );
      }
      await audit(m, {
        actor,
        action: "SCHEDULE_PROMOTION",
        campaignId: id,
        reason,
        detail: { coins: input.coins, bonusCoins: input.bonusCoins, startsAt: starts.toISOString(), endsAt: input.endsAt.toISOString(), packageIds: pkgs.map((p) => p.id) },
      });
      return (await this.promotion(id, m))!;
    });
  }

  /**
   * Ends a promotion now (or cancels it before it starts: an empty window). Orders placed while it
   * ran keep their bonus. Ending an ended promotion returns it unchanged.
   */
  async endPromotion(actor: string, id: string, reasonIn: string): Promise<PromotionRecord> {
    const c: UserError[] = [];
    const reason = checkReason(c, reasonIn);
    if (c.length) throw new ValidationFailed(c);
    return this.ds.transaction(async (m) => {
      const changed = await m.query(
        `WITH u AS (UPDATE wallet.coin_promotions SET ends_at = greatest(starts_at, least(ends_at, now())), ended_at = now(), ended_by = $2
                     WHERE campaign_id = $1 AND ends_at > now() AND ended_at IS NULL RETURNING package_id) SELECT package_id FROM u`,
        [id, actor],
      );
      const promo = await this.promotion(id, m);
      if (!promo) throw new DomainError(ErrorCode.NOT_FOUND, "no such promotion", { field: ["input", "id"] });
      if (changed.length) await audit(m, { actor, action: "END_PROMOTION", campaignId: id, reason, detail: { packageIds: changed.map((r: any) => r.package_id) } });
      return promo;
    });
  }

  async promotion(id: string, m: Q = this.ds): Promise<PromotionRecord | null> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
    const [r] = await m.query(`${PROMOTION_SQL} WHERE pr.campaign_id = $1 GROUP BY pr.campaign_id`, [id]);
    return r ? toPromotion(r) : null;
  }

  /** Promotions touching a region (null: all), newest first; ended ones only when asked. */
  async promotions(region: string | null, includeEnded: boolean, first: number): Promise<PromotionRecord[]> {
    const rows = await this.ds.query(
      `${PROMOTION_SQL} WHERE ($1::text IS NULL OR p.region = $1) GROUP BY pr.campaign_id HAVING $2 OR max(pr.ends_at) > now() ORDER BY min(pr.starts_at) DESC, pr.campaign_id LIMIT $3`,
      [region, includeEnded, first],
    );
    return rows.map(toPromotion);
  }

  /** The audit trail, newest first: of one package, or of every package and promotion. */
  async auditTrail(packageId: string | null, first: number): Promise<AuditRecord[]> {
    const rows = await this.ds.query(
      `SELECT * FROM wallet.coin_package_audit WHERE $1::text IS NULL OR package_id = $1
          OR campaign_id IN (SELECT campaign_id FROM wallet.coin_promotions WHERE package_id = $1)
        ORDER BY id DESC LIMIT $2`,
      [packageId, first],
    );
    return rows.map((r: any) => ({
      id: String(r.id),
      at: iso(r.at)!,
      actor: r.actor,
      action: r.action,
      packageId: r.package_id,
      promotionId: r.campaign_id,
      reason: r.reason,
      detail: r.detail,
    }));
  }
}

