/**
 * In-memory token buckets: the one implementation of "`capacity` at once, then `refillPerSecond`"
 * for limits that are per process (the gateway's first line on money mutations, bad partner keys
 * per address, WebSocket pings per socket). The limits that must hold across instances are the
 * same rule kept in PostgreSQL (platform/gcra-table.ts).
 */

/** A token bucket: `capacity` requests at once, refilled at `refillPerSecond`. */
export interface BucketRule {
  /** Burst size. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
}

/** One bucket: `tokens` as of `at` (ms). A new bucket is full. */
export interface Bucket {
  tokens: number;
  at: number;
}

export const fullBucket = (rule: BucketRule, now: number): Bucket => ({ tokens: rule.capacity, at: now });

/** The bucket's tokens at `now` (refilled since `at`, never above capacity). */
export function tokensAt(rule: BucketRule, bucket: Bucket, now: number): number {
  return Math.min(rule.capacity, bucket.tokens + ((now - bucket.at) / 1000) * rule.refillPerSecond);
}

/** Whole seconds until `tokens` reach one (at least 1); 0 when one is there. */
function secondsUntilToken(rule: BucketRule, tokens: number): number {
  return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / rule.refillPerSecond));
}

/** Refills `bucket` to `now` and takes one token: 0 when taken, otherwise the seconds until one is available. */
export function takeToken(rule: BucketRule, bucket: Bucket, now: number): number {
  bucket.tokens = tokensAt(rule, bucket, now);
  bucket.at = now;
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return secondsUntilToken(rule, bucket.tokens);
}

/** How often full buckets are dropped (they carry no information). */
const SWEEP_EVERY_MS = 60_000;

/** One bucket per (action, subject), with a rule per action; actions without a rule are not limited. */
export class TokenBuckets {
  private readonly buckets = new Map<string, Bucket>();
  private lastSweep = Date.now();

  constructor(
    private readonly rules: Record<string, BucketRule>,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; returns 0 when allowed, otherwise the seconds until one is available. */
  take(subject: string, action: string): number {
    const rule = this.rules[action];
    if (!rule) return 0;
    const t = this.now();
    this.sweep(t);
    const key = `${action}\0${subject}`;
    let bucket = this.buckets.get(key);
    if (!bucket) this.buckets.set(key, (bucket = fullBucket(rule, t)));
    return takeToken(rule, bucket, t);
  }

  /** Seconds until `take` would succeed (0 = now), without taking. */
  peek(subject: string, action: string): number {
    const rule = this.rules[action];
    const bucket = rule && this.buckets.get(`${action}\0${subject}`);
    if (!rule || !bucket) return 0;
    return secondsUntilToken(rule, tokensAt(rule, bucket, this.now()));
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Full buckets carry no information: drop them so memory tracks active subjects only. */
  private sweep(t: number): void {
    if (t - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = t;
    for (const [key, bucket] of this.buckets) {
      const rule = this.rules[key.slice(0, key.indexOf("\0"))];
      if (!rule || tokensAt(rule, bucket, t) >= rule.capacity) this.buckets.delete(key);
    }
  }
}
