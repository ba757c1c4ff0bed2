import { randomUUID } from "node:crypto";
import type { EntityManager } from "typeorm";
import type { LoggedEvent } from "../../../platform/eventlog.js";
import type { GiftSentPayload } from "../../../platform/events.js";
import { advanceCarry, lockCarry, priceDiamonds, type CarryRow } from "./credits/carry.js";
import { creditsFor, notYetCredited, parkRejected, validateBatch } from "./credits/intake.js";
import { applyEngagement, creditHosts, feedItems, insertCredits, updateSessions, upsertBoards } from "./credits/writes.js";
import { appendToFeed } from "./feed.js";

export { invalidReason } from "./credits/intake.js";

/** A gift.sent event, validated and priced in diamonds. */
export interface Credit {
  giftEventId: string;
  position: string;
  hostId: string;
  senderId: string;
  senderName: string;
  giftId: string;
  liveSessionId: string | null;
  quantity: number;
  unitCost: number;
  coins: number;
  shareBps: number;
  /** The share period the gift falls in (by sentAt): its effective_from key, or the default's. */
  shareFrom: string;
  /** What this gift adds to the host's credited diamonds (set once the period's carry row is locked). */
  diamonds: number;
  comboId: string | null;
  sentAt: Date;
  message: string | null;
  anonymous: boolean;
  videoId: string | null;
  /** The send's W3C trace context when well-formed (an optional payload field: a bad one is dropped, never rejected). */
  traceparent: string | null;
}

export interface BatchResult {
  /** Events newly credited (re-delivered ones are skipped). */
  credited: number;
  duplicates: number;
  rejected: number;
  /** Hosts whose balance moved: one UPDATE row and one ledger entry each. */
  hosts: number;
}

/** Test seam: runs inside the batch transaction after every write, before the position moves. */
export interface CreditHooks {
  beforeCommit?: (m: EntityManager, result: BatchResult) => Promise<void>;
}

/**
 * Applies one batch of gift.sent events in the consumer's transaction — exactly once:
 * gift_credits has the gift event id as primary key (a re-delivered event inserts nothing),
 * and EventConsumer moves the read position in this same transaction.
 *
 * Diamonds carry their remainder per (host, share period): the period's carry row is locked
 * before its gifts are priced, each gift adds floor((C + c) × share) − floor(C × share), and the
 * row advances once per batch, so credited diamonds = floor(Σ coins × share) after every commit
 * (credits/carry.ts).
 *
 * Credits are aggregated per host: ONE row update per host per batch for the balance, one
 * ledger entry per host per batch, one upsert row per (host, period, sender) for the
 * leaderboards and one row update per live session — a statement count that does not grow
 * with the batch, and no hot row touched once per gift (credits/writes.ts).
 */
export async function applyGiftBatch(m: EntityManager, events: LoggedEvent<GiftSentPayload>[], hooks: CreditHooks = {}): Promise<BatchResult> {
  const result: BatchResult = { credited: 0, duplicates: 0, rejected: 0, hosts: 0 };
  const { valid, rejected, duplicates } = validateBatch(events);
  result.duplicates = duplicates;
  if (rejected.length) {
    await parkRejected(m, rejected);
    result.rejected = rejected.length;
  }
  if (valid.length) {
    const credits = await creditsFor(m, valid);
    // Lock every (host, share period) carry row this batch touches, then keep the gifts not yet
    // credited. Every gift of a period takes that row's lock first, so a concurrent batch with
    // the same gift waits here and then sees it credited.
    const carry = await lockCarry(m, credits);
    const applied = await notYetCredited(m, credits);
    result.duplicates += credits.length - applied.length;
    result.credited = applied.length;
    if (applied.length) result.hosts = await credit(m, applied, carry);
  }
  await hooks.beforeCommit?.(m, result);
  return result;
}

/** Prices and writes fresh credits: ledgers, boards, sessions, engagement, the feed, host balances. Returns the hosts credited. */
async function credit(m: EntityManager, applied: Credit[], carry: Map<string, CarryRow>): Promise<number> {
  priceDiamonds(applied, carry); // in consumer order
  const batchId = randomUUID();
  await insertCredits(m, applied, batchId);
  await advanceCarry(m, [...carry.values()]);
  const newGifters = await upsertBoards(m, applied);
  await updateSessions(m, applied, newGifters);
  const engagement = await applyEngagement(m, applied);
  await appendToFeed(m, feedItems(applied, engagement));
  // Last, so the creator rows (which requestPayout also locks) stay locked only until the COMMIT right after.
  return creditHosts(m, applied, batchId);
}
