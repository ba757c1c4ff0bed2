import type { DataSource, EntityManager } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, badInput } from "../../../platform/errors.js";
import { logger } from "../../../platform/logger.js";
import type { CreatorService } from "./creators.js";
import { idempotent, validateIdempotencyKey } from "./idempotency.js";
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
  amountMinor: number;
  currency: string;
}

export interface PayoutOutcome {
  status: "PAID" | "FAILED";
  providerRef: string;
  failureReason?: string;
}

/**
 * A payout provider. `submit` must be idempotent per payoutId (providers take an
 * idempotency key): a payout resubmitted after a crash is not paid twice.
 */
export interface PayoutProvider {
  readonly name: string;
  submit(instruction: PayoutInstruction): Promise<PayoutOutcome>;
}

/**
 * Deterministic sandbox, like a provider's test accounts: an amount whose cents end in
 * .13 fails ("destination account closed"), everything else is paid. Idempotent: the
 * same payout always gets the same reference and outcome.
 */
export class SandboxPayoutProvider implements PayoutProvider {
  readonly name = "sandbox";
  /** Submissions per payout id (tests assert a resubmission is not a second transfer). */
  readonly submissions = new Map<string, number>();

  async submit(i: PayoutInstruction): Promise<PayoutOutcome> {
    this.submissions.set(i.payoutId, (this.submissions.get(i.payoutId) ?? 0) + 1);
    const providerRef = `sbx_po_${i.payoutId.replace(/-/g, "")}`;
    if (i.amountMinor % 100 === 13) return { status: "FAILED", providerRef, failureReason: "destination account closed (sandbox: amounts ending in .13 fail)" };
    return { status: "PAID", providerRef };
  }
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
    const { result, replayed } = await idempotent(this.ds, { userId: user.id, key, operation: "requestPayout", request: { diamonds } }, async (m) => {
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
        return toPayout(row);
      }
      const [found] = await m.query(`SELECT ${COLUMNS} FROM earnings.payouts WHERE id = $1`, [id]);
      if (!found || (found.creator_id !== user.id && !user.roles.includes("admin"))) throw new DomainError(ErrorCode.NOT_FOUND, "no such payout");
      if (found.status === "CANCELED") return toPayout(found);
      throw new DomainError(ErrorCode.INVALID_STATE, `a ${found.status} payout can no longer be canceled`);
    });
  }

  /**
   * Operator step: claims REQUESTED payouts (and PROCESSING ones stuck longer than
   * `stuckAfterMs`, e.g. after a crash), submits them to the provider and settles them.
   * PAID is final; FAILED returns the diamonds with a ledger entry. Safe to run from
   * several instances (SKIP LOCKED + conditional settle).
   */
  async processDue(limit = 100, stuckAfterMs = 5 * 60_000): Promise<PayoutRecord[]> {
    const claimed = await rows(
      this.ds,
      `UPDATE earnings.payouts p SET status = 'PROCESSING', processing_at = now(), updated_at = now()
        WHERE p.id IN (SELECT id FROM earnings.payouts
                        WHERE status = 'REQUESTED' OR (status = 'PROCESSING' AND processing_at < now() - make_interval(secs => $2))
                        ORDER BY requested_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
        RETURNING ${COLUMNS}`,
      [limit, stuckAfterMs / 1000],
    );
    const settled: PayoutRecord[] = [];
    for (const c of claimed.map(toPayout).sort((a, b) => a.requestedAt.localeCompare(b.requestedAt))) {
      let outcome: PayoutOutcome;
      try {
        outcome = await this.provider.submit({ payoutId: c.id, creatorId: c.creatorId, amountMinor: c.amountMinor, currency: c.currency });
      } catch (err) {
        // Unknown outcome: leave it PROCESSING; the stuck-payout sweep resubmits (the provider is idempotent).
        logger.warn({ payout: c.id, err: err instanceof Error ? err.message : String(err) }, "payout submission failed; will retry");
        settled.push(c);
        continue;
      }
      settled.push(await this.settle(c.id, outcome));
    }
    return settled;
  }

  /** Records the provider's outcome for a PROCESSING payout (idempotent: a settled payout is returned as it is). */
  async settle(id: string, outcome: PayoutOutcome): Promise<PayoutRecord> {
    return this.ds.transaction(async (m) => {
      const [row] = await rows(
        m,
        `UPDATE earnings.payouts SET status = $2, provider_ref = $3, failure_reason = $4, completed_at = now(), updated_at = now()
          WHERE id = $1 AND status = 'PROCESSING' RETURNING ${COLUMNS}`,
        [id, outcome.status, outcome.providerRef, outcome.failureReason ?? null],
      );
      if (!row) return toPayout((await m.query(`SELECT ${COLUMNS} FROM earnings.payouts WHERE id = $1`, [id]))[0]);
      if (outcome.status === "FAILED") {
        await postDiamonds(m, { creatorId: row.creator_id, type: "PAYOUT_RETURNED", amount: Number(row.diamonds), reference: `payout:${id}` });
      }
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
