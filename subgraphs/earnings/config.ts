/** The earnings subgraph's own settings, read and validated once (process.env is read only in config modules). */
export interface EarningsConfig {
  /** Daily UTC time of the scheduled payout run ({ hour, minute }); null = no scheduler (tests; operators run processPayouts). */
  payoutScheduleUtc: { hour: number; minute: number } | null;
  /** Payouts claimed per batch within a run. */
  payoutBatchSize: number;
  /** Most payouts one run submits (the rest wait for the next run). */
  payoutRunMax: number;
}

/** "HH:MM" (24 h, UTC) → { hour, minute }; "off" / "" → null. */
export function parseScheduleUtc(raw: string | undefined, fallback: string | null): { hour: number; minute: number } | null {
  const v = raw === undefined ? fallback : raw.trim();
  if (v === null || v === "" || v.toLowerCase() === "off") return null;
  const m = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(v);
  if (!m) throw new Error(`PAYOUT_SCHEDULE_UTC must be HH:MM (UTC, 24 h) or "off", got ${raw}`);
  return { hour: Number(m[1]), minute: Number(m[2]) };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new Error(`${name} must be an integer 1..${max}, got ${raw}`);
  return n;
}

export function loadEarningsConfig(env: NodeJS.ProcessEnv = process.env): EarningsConfig {
  const testing = env.NODE_ENV === "test" || env.VITEST !== undefined;
  return {
    payoutScheduleUtc: parseScheduleUtc(env.PAYOUT_SCHEDULE_UTC, testing ? null : "02:00"),
    payoutBatchSize: positiveInt(env, "PAYOUT_BATCH_SIZE", 100, 1000),
    payoutRunMax: positiveInt(env, "PAYOUT_RUN_MAX", 10_000, 1_000_000),
  };
}
