import type { DataSource, EntityManager } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, badInput } from "../../../platform/errors.js";
import { logger } from "../../../platform/logger.js";
import type { CreatorService } from "./creators.js";
import { idempotent, validateIdempotencyKey } from "./idempotency.js";
import { MoneyRateLimiter } from "../../../platform/money-rate-limit.js";
import { DAILY_MAX_PAYOUT_DIAMONDS, DIAMONDS_PER_CENT, MIN_PAYOUT_DIAMONDS, PAYOUT_CURRENCY, payoutAmountMinor } from "./revenue.js";
import { decodeCursor, encodeCursor, isUuid } from "./sessions.js";
import { rows } from "./sql.js";

export type PayoutStatus = "REQUESTED" | "PROCESSING" | "PAID" | "FAILED" | "CANCELED";

/** Plain JSON (dates as ISO strings) so an idempotent replay equals the original. */
export interface PayoutRecord {
  id: string;
  creatorId: string;
  diamonds: number;
  amountMinor: number;
  currency: string;
  status: PayoutStatus;
  failureReason: string | null;
  providerRef: string | null;
  requestedAt: string;
  processingAt: string | null;
  completedAt: string | null;
}

const COLUMNS = `id, creator_id, diamonds, amount_minor, currency, status, failure_reason, provider_ref, requested_at, processing_at, completed_at`;
const iso = (d: Date | null) => (d ? new Date(d).toISOString() : null);

export function toPayout(r: Record<string, any>): PayoutRecord {
  return {
    id: r.id,
    creatorId: r.creator_id,
    diamonds: Number(r.diamonds),
    amountMinor: Number(r.amount_minor),
    currency: r.currency,
    status: r.status,
    failureReason: r.failure_reason,
    providerRef: r.provider_ref,
    requestedAt: iso(r.requested_at)!,
    processingAt: iso(r.processing_at),
    completedAt: iso(r.completed_at),
  };
}

/** What a payout provider (bank transfer, PayPal, ...) is asked to do. */
export interface PayoutInstruction {
  payoutId: string;
  creatorId: string;
  /** Integer minor units of `currency` (ISO 4217). */
  amountMinor: number;
  currency: string;
  /** `payout:<id>`: the same on every (re)submission, so a provider never pays one payout twice. */
  idempotencyKey: string;
}

export interface PayoutOutcome {
  status: "PAID" | "FAILED";
  /** The provider's id for the transfer. */
  providerRef: string;
  failureReason?: string;
  /** What the provider charged for the transfer, minor units of the payout's currency (statements show it); 0 when none. */
  feeMinor?: number;
}

/** The provider could not be reached or answered with an error: the outcome is unknown, the payout is retried (same key). */
export class PayoutProviderUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PayoutProviderUnavailable";
  }
}

/**
 * A payout provider (domain/payout-scheduler.ts drives it). `submit` must be idempotent per
 * `idempotencyKey` (real providers take one): a payout resubmitted after a crash or a lost
 * answer gets the original transfer's outcome and reference, not a second transfer. A final
 * refusal is `{ status: "FAILED" }`; anything thrown means "unknown, retry later".
 */
export interface PayoutProvider {
  readonly name: string;
  submit(instruction: PayoutInstruction): Promise<PayoutOutcome>;
}

/**
 * Deterministic sandbox, like a provider's test accounts: an amount whose cents end in
 * .13 fails ("destination account closed"), an unsupported currency or a non-positive amount
 * fails, everything else is paid. Idempotent by key: the same key always gets the same
 * transfer. `failNext(n)` makes the next n calls throw (a provider outage) for retry tests.
 */
export class SandboxPayoutProvider implements PayoutProvider {
  readonly name = "sandbox";
  static readonly CURRENCIES = new Set(["USD", "EUR", "GBP", "JPY", "INR"]);
  /** Submissions per payout id (tests assert a resubmission is not a second transfer). */
  readonly submissions = new Map<string, number>();
  /** Transfers actually made, by idempotency key: what the bank saw. */
  readonly transfers = new Map<string, PayoutOutcome & { amountMinor: number; currency: string }>();
  private outages = 0;

  failNext(n: number): void {
    this.outages = n;
  }

  async submit(i: PayoutInstruction): Promise<PayoutOutcome> {
    this.submissions.set(i.payoutId, (this.submissions.get(i.payoutId) ?? 0) + 1);
    if (this.outages > 0) {
      this.outages--;
      throw new PayoutProviderUnavailable("sandbox payout provider unavailable (simulated outage)");
    }
    const done = this.transfers.get(i.idempotencyKey);
    if (done) return { status: done.status, providerRef: done.providerRef, failureReason: done.failureReason };
    const providerRef = `sbx_po_${i.payoutId.replace(/-/g, "")}`;
    let outcome: PayoutOutcome = { status: "PAID", providerRef };
    if (!Number.isSafeInteger(i.amountMinor) || i.amountMinor < 1) outcome = { status: "FAILED", providerRef, failureReason: "amount must be a positive integer in minor units" };
    else if (!SandboxPayoutProvider.CURRENCIES.has(i.currency)) outcome = { status: "FAILED", providerRef, failureReason: `currency ${i.currency} is not supported` };
    else if (i.amountMinor % 100 === 13) outcome = { status: "FAILED", providerRef, failureReason: "destination account closed (sandbox: amounts ending in .13 fail)" };
    this.transfers.set(i.idempotencyKey, { ...outcome, amountMinor: i.amountMinor, currency: i.currency });
    return outcome;
  }

  /** Money actually sent (PAID transfers), in minor units. */
  paidMinor(): number {
    return [...this.transfers.values()].filter((t) => t.status === "PAID").reduce((s, t) => s + t.amountMinor, 0);
  }
}

/** Backoff after a failed submission: 30 s, 60 s, 120 s, … at most an hour. */
export function retryDelayMs(attempts: number): number {
  return Math.min(3_600_000, 30_000 * 2 ** Math.max(0, attempts - 1));
}

export async function payoutEvent(m: Pick<EntityManager, "query">, payoutId: string, from: PayoutStatus | null, to: PayoutStatus, note: string): Promise<void> {
  await m.query(`INSERT INTO earnings.payout_events (payout_id, from_status, to_status, note) VALUES ($1, $2, $3, $4)`, [payoutId, from, to, note]);
}

/** Machine-readable reason of a FAILED payout (the API's PayoutFailureCode). */
export type PayoutFailureCode = "ACCOUNT_CLOSED" | "PROVIDER_REJECTED";

/**
 * The provider's reason text is for people; clients switch on this code. Providers answer
 * with reasons we map here (the sandbox's "destination account closed"); anything not
 * recognised is a generic rejection, never an unknown value.
 */
export function payoutFailureCode(reason: string | null): PayoutFailureCode | null {
  if (reason === null) return null;
  return /^destination account closed/i.test(reason) ? "ACCOUNT_CLOSED" : "PROVIDER_REJECTED";
}

export interface PayoutPage {
  nodes: PayoutRecord[];
  endCursor: string | null;
  hasNextPage: boolean;
}

/** Seconds until the next UTC midnight (when the daily maximum resets). */
function secondsUntilUtcMidnight(now = new Date()): number {
  const next = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
  return Math.max(1, Math.ceil((next - now.getTime()) / 1000));
}

/** Moves a creator's diamond balance and writes its ledger entry in the caller's transaction (conditional, never below 0). */
export async function postDiamonds(
  m: EntityManager,
  e: { creatorId: string; type: "PAYOUT_RESERVED" | "PAYOUT_RETURNED" | "ADJUSTMENT"; amount: number; reference: string },
): Promise<number> {
  if (!Number.isSafeInteger(e.amount) || e.amount === 0) throw new Error("diamond amounts must be non-zero integers");
  const [row] = await rows<{ diamonds: string }>(
    m,
    `UPDATE earnings.creators SET diamonds = diamonds + $2 WHERE id = $1 AND diamonds + $2 >= 0 RETURNING diamonds`,
    [e.creatorId, e.amount],
  );
  if (!row) {
    const [c] = await m.query(`SELECT diamonds FROM earnings.creators WHERE id = $1`, [e.creatorId]);
    const balance = Number(c?.diamonds ?? 0);
    throw new DomainError(ErrorCode.INSUFFICIENT_DIAMONDS, `not enough diamonds: ${balance} available, ${-e.amount} requested`, {
      balance,
      shortfall: Math.max(0, -e.amount - balance),
    });
  }
  const balanceAfter = Number(row.diamonds);
  await m.query(`INSERT INTO earnings.diamond_ledger (creator_id, type, amount, balance_after, reference) VALUES ($1, $2, $3, $4, $5)`, [
    e.creatorId,
    e.type,
    e.amount,
    balanceAfter,
    e.reference,
  ]);
  return balanceAfter;
}

export class PayoutService {
  constructor(
    private readonly ds: DataSource,
    private readonly creators: CreatorService,
    readonly provider: PayoutProvider = new SandboxPayoutProvider(),
    /** The durable per-user requestPayout limit (earnings.rate_limits), taken when the key is claimed. */
    private readonly limiter: MoneyRateLimiter = new MoneyRateLimiter("earnings"),
  ) {}

  /**
   * Reserves `diamonds` for a payout. The conditional debit locks the creator's row, so
   * concurrent requests are serialized there: only what fits the balance is reserved, and
   * the daily sum checked after the debit sees every earlier committed request.
   */
  async request(user: AuthUser, diamonds: number, idempotencyKey: string): Promise<{ payout: PayoutRecord; replayed: boolean }> {
    const key = validateIdempotencyKey(idempotencyKey);
    if (!Number.isSafeInteger(diamonds) || diamonds <= 0) throw badInput("diamonds must be a positive integer", ["input", "diamonds"]);
    if (diamonds < MIN_PAYOUT_DIAMONDS) {
      throw new DomainError(ErrorCode.BELOW_MINIMUM, `the minimum payout is ${MIN_PAYOUT_DIAMONDS} diamonds`, { field: ["input", "diamonds"] });
    }
    if (diamonds % DIAMONDS_PER_CENT !== 0) {
      throw new DomainError(ErrorCode.INVALID_INPUT, `diamonds must convert to whole cents: a multiple of ${DIAMONDS_PER_CENT}`, { field: ["input", "diamonds"] });
    }
    await this.creators.ensure(user);
    const { result, replayed } = await idempotent(this.ds, { userId: user.id, key, operation: "requestPayout", request: { diamonds }, limit: { limiter: this.limiter, action: "requestPayout" } }, async (m) => {
      await postDiamonds(m, { creatorId: user.id, type: "PAYOUT_RESERVED", amount: -diamonds, reference: `payout-request:${key}` });
      const [{ total }] = await m.query(
        `SELECT coalesce(sum(diamonds), 0)::bigint AS total FROM earnings.payouts
          WHERE creator_id = $1 AND status NOT IN ('FAILED', 'CANCELED')
            AND requested_at >= (date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`,
        [user.id],
      );
      if (Number(total) + diamonds > DAILY_MAX_PAYOUT_DIAMONDS) {
        throw new DomainError(
          ErrorCode.LIMIT_EXCEEDED,
          `payouts are limited to ${DAILY_MAX_PAYOUT_DIAMONDS} diamonds per day (UTC); ${Math.max(0, DAILY_MAX_PAYOUT_DIAMONDS - Number(total))} left today`,
          { field: ["input", "diamonds"], retryAfterSeconds: secondsUntilUtcMidnight() },
        );
      }
      const [row] = await m.query(
        `INSERT INTO earnings.payouts (creator_id, diamonds, amount_minor, currency) VALUES ($1, $2, $3, $4) RETURNING ${COLUMNS}`,
        [user.id, diamonds, payoutAmountMinor(diamonds), PAYOUT_CURRENCY],
      );
      await payoutEvent(m, row.id, null, "REQUESTED", "requested");
      return toPayout(row);
    });
    return { payout: result, replayed };
  }

  /** Cancels a payout still REQUESTED and returns its diamonds. Cancelling a canceled payout returns it unchanged. */
  async cancel(user: AuthUser, id: string): Promise<PayoutRecord> {
    if (!isUuid(id)) throw badInput("id is not a payout id", ["input", "id"]);
    return this.ds.transaction(async (m) => {
      const [row] = await rows(
        m,
        `UPDATE earnings.payouts SET status = 'CANCELED', completed_at = now(), updated_at = now()
          WHERE id = $1 AND (creator_id = $2 OR $3) AND status = 'REQUESTED' RETURNING ${COLUMNS}`,
        [id, user.id, user.roles.includes("admin")],
      );
      if (row) {
        await postDiamonds(m, { creatorId: row.creator_id, type: "PAYOUT_RETURNED", amount: Number(row.diamonds), reference: `payout:${id}` });
        await payoutEvent(m, id, "REQUESTED", "CANCELED", user.id === row.creator_id ? "canceled by the creator" : "canceled by an admin");
        return toPayout(row);
      }
      const [found] = await m.query(`SELECT ${COLUMNS} FROM earnings.payouts WHERE id = $1`, [id]);
      if (!found || (found.creator_id !== user.id && !user.roles.includes("admin"))) throw new DomainError(ErrorCode.NOT_FOUND, "no such payout");
      if (found.status === "CANCELED") return toPayout(found);
      throw new DomainError(ErrorCode.INVALID_STATE, `a ${found.status} payout can no longer be canceled`);
    });
  }

  /**
   * One batch: claims REQUESTED payouts of creators not on hold, and PROCESSING ones due for a
   * retry (or stuck longer than `stuckAfterMs` with no retry planned, e.g. after a crash),
   * submits each to the provider with idempotency key `payout:<id>` and settles it. PAID is
   * final; FAILED returns the diamonds with a ledger entry; an unknown outcome (the provider
   * threw) stays PROCESSING with a retry planned (backoff). Safe from several instances (SKIP
   * LOCKED + conditional settle); the scheduler (payout-scheduler.ts) runs it under one lock.
   */
  async processDue(limit = 100, stuckAfterMs = 5 * 60_000): Promise<PayoutRecord[]> {
    const claimed = await rows(
      this.ds,
      `WITH c AS (
         SELECT p.id, p.status AS was FROM earnings.payouts p
          WHERE (p.status = 'REQUESTED' AND NOT EXISTS (SELECT 1 FROM earnings.payout_holds h WHERE h.creator_id = p.creator_id))
             OR (p.status = 'PROCESSING' AND (p.next_attempt_at <= now() OR (p.next_attempt_at IS NULL AND p.processing_at <= now() - make_interval(secs => $2))))
          ORDER BY p.requested_at, p.id LIMIT $1 FOR UPDATE SKIP LOCKED),
       u AS (
         UPDATE earnings.payouts p SET status = 'PROCESSING', processing_at = coalesce(p.processing_at, now()), next_attempt_at = NULL,
                attempts = p.attempts + 1, provider = $3, updated_at = now()
           FROM c WHERE p.id = c.id RETURNING ${COLUMNS.split(", ").map((col) => `p.${col}`).join(", ")}, p.attempts, c.was),
       e AS (INSERT INTO earnings.payout_events (payout_id, from_status, to_status, note)
             SELECT id, was, 'PROCESSING', CASE WHEN was = 'REQUESTED' THEN 'submitted to the payout provider' ELSE 'resubmitted (attempt ' || attempts || ')' END FROM u)
       SELECT * FROM u`,
      [limit, stuckAfterMs / 1000, this.provider.name],
    );
    const settled: PayoutRecord[] = [];
    for (const c of claimed.sort((a, b) => toPayout(a).requestedAt.localeCompare(toPayout(b).requestedAt))) {
      const p = toPayout(c);
      let outcome: PayoutOutcome;
      try {
        outcome = await this.provider.submit({ payoutId: p.id, creatorId: p.creatorId, amountMinor: p.amountMinor, currency: p.currency.trim(), idempotencyKey: `payout:${p.id}` });
      } catch (err) {
        settled.push(await this.planRetry(p.id, Number(c.attempts), err instanceof Error ? err.message : String(err)));
        continue;
      }
      settled.push(await this.settle(p.id, outcome));
    }
    return settled;
  }

  /** Unknown outcome: stays PROCESSING; resubmitted after a backoff with the same idempotency key. */
  private async planRetry(id: string, attempts: number, error: string): Promise<PayoutRecord> {
    logger.warn({ payout: id, attempts, err: error }, "payout submission failed; will retry");
    return this.ds.transaction(async (m) => {
      const [row] = await rows(
        m,
        `UPDATE earnings.payouts SET next_attempt_at = now() + make_interval(secs => $2), last_error = $3, updated_at = now()
          WHERE id = $1 AND status = 'PROCESSING' RETURNING ${COLUMNS}`,
        [id, retryDelayMs(attempts) / 1000, error.slice(0, 500)],
      );
      if (row) await payoutEvent(m, id, "PROCESSING", "PROCESSING", `provider unavailable, retry planned (attempt ${attempts})`);
      return toPayout(row ?? (await m.query(`SELECT ${COLUMNS} FROM earnings.payouts WHERE id = $1`, [id]))[0]);
    });
  }

  /** Records the provider's outcome for a PROCESSING payout (idempotent: a settled payout is returned as it is). */
  async settle(id: string, outcome: PayoutOutcome): Promise<PayoutRecord> {
    return this.ds.transaction(async (m) => {
      const [row] = await rows(
        m,
        `UPDATE earnings.payouts SET status = $2, provider_ref = $3, failure_reason = $4, completed_at = now(), updated_at = now(), next_attempt_at = NULL, fee_minor = $5
          WHERE id = $1 AND status = 'PROCESSING' RETURNING ${COLUMNS}`,
        [id, outcome.status, outcome.providerRef, outcome.failureReason ?? null, outcome.status === "PAID" && Number.isSafeInteger(outcome.feeMinor) && outcome.feeMinor! > 0 ? outcome.feeMinor : 0],
      );
      if (!row) return toPayout((await m.query(`SELECT ${COLUMNS} FROM earnings.payouts WHERE id = $1`, [id]))[0]);
      if (outcome.status === "FAILED") {
        await postDiamonds(m, { creatorId: row.creator_id, type: "PAYOUT_RETURNED", amount: Number(row.diamonds), reference: `payout:${id}` });
      }
      await payoutEvent(m, id, "PROCESSING", outcome.status, outcome.status === "PAID" ? `paid (${outcome.providerRef})` : `refused: ${outcome.failureReason ?? "unknown"}; diamonds returned`);
      return toPayout(row);
    });
  }

  async byIds(ids: readonly string[]): Promise<(PayoutRecord | null)[]> {
    const valid = [...new Set(ids.filter(isUuid))];
    const found = valid.length ? await this.ds.query(`SELECT ${COLUMNS} FROM earnings.payouts WHERE id = ANY($1::uuid[])`, [valid]) : [];
    const byId = new Map<string, PayoutRecord>(found.map((r: any) => [r.id, toPayout(r)]));
    return ids.map((id) => byId.get(id.toLowerCase()) ?? null);
  }

  /** Newest first. */
  async list(creatorId: string, first: number, after?: string | null): Promise<PayoutPage> {
    const params: unknown[] = [creatorId, first + 1];
    let cond = "";
    if (after) {
      const c = decodeCursor(after);
      if (!c) throw badInput("after is not a cursor from this list", ["after"]);
      params.push(c);
      // Compare with the row's own timestamp (microseconds), not a rounded copy in the cursor.
      cond = `AND (requested_at, id) < (SELECT requested_at, id FROM earnings.payouts WHERE id = $3::uuid)`;
    }
    const found = await this.ds.query(`SELECT ${COLUMNS} FROM earnings.payouts WHERE creator_id = $1 ${cond} ORDER BY requested_at DESC, id DESC LIMIT $2`, params);
    const nodes = found.slice(0, first).map(toPayout);
    const last = nodes[nodes.length - 1];
    return { nodes, endCursor: last ? encodeCursor(last.id) : null, hasNextPage: found.length > first };
  }
}
