/**
 * Where coins are sold and at what price. Reference data, seeded into wallet.regions and
 * wallet.coin_packages (domain/seed.ts); the database copy is authoritative at runtime.
 */
export const DEFAULT_REGION = "US";
export const MIN_CUSTOM_COINS = 30;
export const MAX_CUSTOM_COINS = 2_500_000;

export type PaymentMethodType = "CARD" | "PAYPAL" | "APPLE_PAY" | "GOOGLE_PAY" | "SEPA_DEBIT" | "KONBINI" | "UPI";
export const PAYMENT_METHOD_TYPES: readonly PaymentMethodType[] = ["CARD", "PAYPAL", "APPLE_PAY", "GOOGLE_PAY", "SEPA_DEBIT", "KONBINI", "UPI"];

export interface RegionSeed {
  region: string;
  currency: string;
  locale: string;
  /** Package price in minor units, by coins. */
  packages: Record<number, number>;
  /** Custom amounts: `customPriceMinor` minor units per `customPriceCoins` coins (a rational, never a float). */
  customPriceMinor: number;
  customPriceCoins: number;
  paymentMethods: PaymentMethodType[];
}

const GLOBAL_METHODS: PaymentMethodType[] = ["CARD", "PAYPAL", "APPLE_PAY", "GOOGLE_PAY"];

export const REGION_SEED: RegionSeed[] = [
  {
    region: "US", currency: "USD", locale: "en-US",
    packages: { 70: 99, 350: 499, 700: 999, 1400: 1999, 3500: 4999, 7000: 9999 },
    customPriceMinor: 99, customPriceCoins: 70, paymentMethods: GLOBAL_METHODS,
  },
  {
    region: "GB", currency: "GBP", locale: "en-GB",
    packages: { 70: 99, 350: 499, 700: 999, 1400: 1999, 3500: 4999, 7000: 9999 },
    customPriceMinor: 99, customPriceCoins: 70, paymentMethods: GLOBAL_METHODS,
  },
  {
    region: "DE", currency: "EUR", locale: "de-DE",
    packages: { 70: 109, 350: 549, 700: 1099, 1400: 2199, 3500: 5499, 7000: 10999 },
    customPriceMinor: 109, customPriceCoins: 70, paymentMethods: [...GLOBAL_METHODS, "SEPA_DEBIT"],
  },
  {
    // JPY has no minor unit: amounts are whole yen.
    region: "JP", currency: "JPY", locale: "en-JP",
    packages: { 70: 160, 350: 800, 700: 1600, 1400: 3200, 3500: 8000, 7000: 16000 },
    customPriceMinor: 160, customPriceCoins: 70, paymentMethods: [...GLOBAL_METHODS, "KONBINI"],
  },
  {
    region: "IN", currency: "INR", locale: "en-IN",
    packages: { 70: 8900, 350: 44900, 700: 89900, 1400: 179900, 3500: 449900, 7000: 899900 },
    customPriceMinor: 8900, customPriceCoins: 70, paymentMethods: [...GLOBAL_METHODS, "UPI"],
  },
];

/** Stable, readable package ids partners can store: pkg_US_70. */
export const packageId = (region: string, coins: number) => `pkg_${region}_${coins}`;

/** Launch promotions seeded once: bonus coins on the larger packages for 30 days. */
export const PROMOTION_SEED: { coins: number; bonusCoins: number }[] = [
  { coins: 1400, bonusCoins: 70 },
  { coins: 7000, bonusCoins: 700 },
];

export function normalizeRegion(region: string | null | undefined): string | null {
  if (region === undefined || region === null) return null;
  const r = region.trim().toUpperCase();
  return /^[A-Z]{2}$/.test(r) ? r : null;
}
