import { Field, Int, ObjectType, Directive } from "type-graphql";

/**
 * Real money: integer minor units + ISO 4217 code. Never a float: amounts are turned
 * into decimal strings by integer arithmetic and Intl formats the string exactly.
 */

const digitsCache = new Map<string, number>();

/** Minor-unit digits of a currency (USD 2, JPY 0), from Intl's ISO 4217 data. */
export function minorUnitDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    d = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits ?? 2;
    digitsCache.set(currency, d);
  }
  return d;
}

/** "12345" minor units of USD → "123.45"; of JPY → "12345". Exact for any safe integer. */
export function toDecimalString(amountMinor: number, currency: string): string {
  if (!Number.isSafeInteger(amountMinor)) throw new Error("money amounts must be safe integers");
  const digits = minorUnitDigits(currency);
  const sign = amountMinor < 0 ? "-" : "";
  const abs = String(Math.abs(amountMinor));
  if (digits === 0) return sign + abs;
  const padded = abs.padStart(digits + 1, "0");
  return `${sign}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

const formatterCache = new Map<string, Intl.NumberFormat>();

/** Localised display string (0.99 USD → "$0.99", 160 JPY → "¥160", 8900 INR → "₹89"). */
export function formatMoney(amountMinor: number, currency: string, locale = "en-US"): string {
  const key = `${locale}|${currency}`;
  let f = formatterCache.get(key);
  if (!f) {
    let resolved = locale;
    try {
      Intl.getCanonicalLocales(locale);
    } catch {
      resolved = "en-US";
    }
    // trailingZeroDisplay: ₹89 rather than ₹89.00; $0.99 keeps its cents.
    f = new Intl.NumberFormat(resolved, { style: "currency", currency, trailingZeroDisplay: "stripIfInteger" } as Intl.NumberFormatOptions);
    formatterCache.set(key, f);
  }
  // Intl formats a decimal string exactly (no binary floating point involved).
  return f.format(toDecimalString(amountMinor, currency) as unknown as number);
}

/**
 * `numerator / denominator` minor units per coin, times `coins`, rounded half-up to the
 * currency's minor unit. BigInt so no intermediate product can lose precision.
 */
export function priceForCoins(coins: number, numeratorMinor: number, denominatorCoins: number): number {
  const n = BigInt(coins) * BigInt(numeratorMinor);
  const d = BigInt(denominatorCoins);
  return Number((2n * n + d) / (2n * d));
}

@Directive("@shareable")
@ObjectType({ description: "An amount of real money: integer minor units and an ISO 4217 currency (never a float)." })
export class Money {
  @Field(() => Int, { description: "Amount in the currency's minor unit (cents for USD, yen for JPY)." })
  amountMinor: number;

  @Field({ description: "ISO 4217 currency code, e.g. USD, JPY." })
  currency: string;

  @Field({ description: "The amount formatted for display in the region's locale, e.g. $0.99, ¥160, ₹89." })
  formatted: string;
}

export function money(amountMinor: number, currency: string, locale?: string): Money {
  return Object.assign(new Money(), { amountMinor, currency, formatted: formatMoney(amountMinor, currency, locale) });
}
