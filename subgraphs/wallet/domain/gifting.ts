import { randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, UnavailableError, badInput } from "../../../platform/errors.js";
import { EventNotifier } from "../../../platform/eventlog.js";
import { GIFT_SENT, type GiftSentPayload } from "../../../platform/events.js";
import { MoneyRateLimiter } from "../../../platform/money-rate-limit.js";
import { rateLimitError } from "../../../platform/codes.js";
import { currentTraceparent } from "../../../platform/tracing.js";
import { requestHash, StoredKeys, validateIdempotencyKey } from "./idempotency.js";
import { MessageModeration, parseMessage } from "./gift-message.js";
import { SEND_BATCH_DEFAULTS, type SendBatchConfig } from "../config.js";
import { SendBatcher, type PreparedSend, type SendOutcome } from "./send-batch.js";
import type { Balance } from "./accounts.js";

/**
 * sendGift: a viewer's coins become a gift to a host.
 *
 * Validation needs data the wallet does not own (the gift's price and availability from
 * the catalog, the host and live session from earnings). Those are owner reads behind the
 * small interfaces below, done BEFORE the transaction so no row lock is held across HTTP.
 * The transaction then does only wallet work: key claim, rate-limit token, debt check, combo
 * bookkeeping, conditional debit + ledger entry, the gift event row and the gift.sent outbox
 * event — all or nothing per send, group-committed with the process's concurrent sends
 * (send-batch.ts: one statement and one commit per batch).
 */

// ---------------------------------------------------------------- owner reads (ports)

export type GiftUnavailableReason = "RETIRED" | "NOT_STARTED" | "ENDED" | "NOT_IN_REGION";

/** What the catalog says about sending one gift now, in one region (contract 3). */
export interface SendableGift {
  id: string;
  name: string;
  coinCost: number;
  streakable: boolean;
  sendable: boolean;
  reason: GiftUnavailableReason | null;
}

/** The catalog's owner read (subgraphs/wallet/services.ts wires subgraphs/catalog/transport/owner-reads-client.ts). */
export interface GiftPricing {
  giftForSending(giftId: string, region: string, authorization?: string): Promise<SendableGift | null>;
}

/** Earnings' owner reads (subgraphs/wallet/services.ts wires subgraphs/earnings/transport/owner-reads-client.ts). */
export interface HostDirectory {
  hostForGifting(hostId: string, authorization?: string): Promise<{ id: string; canReceive: boolean } | null>;
  liveSession(id: string, authorization?: string): Promise<{ id: string; hostId: string; live: boolean } | null>;
}

// ---------------------------------------------------------------- rules

/** Quantity per send for any gift. */
export const MAX_QUANTITY = 99;
/** Streakable gifts inside a combo: per send and for the combo's running total. */
export const MAX_COMBO_QUANTITY = 9_999;
/** Coins in one send must fit GraphQL's Int (the API reports coins as Int). */
export const MAX_COINS_PER_SEND = 2_147_483_647;
const MAX_ID_LENGTH = 128;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Ids are the identity provider's subjects and client-chosen combo ids: any text without control characters. */
const CONTROL = /[\u0000-\u001f\u007f]/;

export interface SendGiftInputData {
  giftId: string;
  hostId: string;
  liveSessionId?: string | null;
  quantity?: number | null;
  comboId?: string | null;
  expectedUnitCost?: number | null;
  idempotencyKey: string;
  message?: string | null;
  anonymous?: boolean | null;
  videoId?: string | null;
}

/** A parsed, well-formed sendGift request. */
export interface SendGiftCommand {
  giftId: string;
  hostId: string;
  liveSessionId: string | null;
  quantity: number;
  comboId: string | null;
  expectedUnitCost: number | null;
  idempotencyKey: string;
  /** Shown with the gift on the streams (docs/engagement.md); null: none. */
  message: string | null;
  /** Hidden sender everywhere but the sender's own history and admins. */
  anonymous: boolean;
  /** A video (owned elsewhere) the gift is sent on, outside a live session. */
  videoId: string | null;
}

function id(value: string | null | undefined, field: string, required: boolean): string | null {
  if (value === null || value === undefined) {
    if (required) throw badInput(`${field} is required`, ["input", field]);
    return null;
  }
  if (value.length === 0 || value.length > MAX_ID_LENGTH || CONTROL.test(value)) {
    throw badInput(`${field} must be 1-${MAX_ID_LENGTH} characters without control characters`, ["input", field]);
  }
  return value;
}

/**
 * Format checks: a malformed id or key is BAD_USER_INPUT (a GraphQL error). Numbers out of
 * range are INVALID_INPUT userErrors (checkNumbers), like the wallet's other mutations
 * (recharge customCoins, spending limits).
 */
export function parseSendGiftInput(input: SendGiftInputData): SendGiftCommand {
  const giftId = id(input.giftId, "giftId", true)!;
  if (!UUID.test(giftId)) throw badInput("giftId is not a gift id", ["input", "giftId"]);
  const quantity = input.quantity ?? 1;
  const expected = input.expectedUnitCost ?? null;
  return {
    giftId: giftId.toLowerCase(),
    hostId: id(input.hostId, "hostId", true)!,
    liveSessionId: id(input.liveSessionId, "liveSessionId", false),
    quantity,
    comboId: id(input.comboId, "comboId", false),
    expectedUnitCost: expected,
    idempotencyKey: validateIdempotencyKey(input.idempotencyKey),
    message: parseMessage(input.message),
    anonymous: input.anonymous === true,
    videoId: id(input.videoId, "videoId", false),
  };
}

/** Ranges that hold for any gift: quantity 1..9,999, expectedUnitCost >= 1. */
export function checkNumbers(cmd: SendGiftCommand): void {
  if (!Number.isInteger(cmd.quantity) || cmd.quantity < 1 || cmd.quantity > MAX_COMBO_QUANTITY) {
    throw new DomainError(ErrorCode.INVALID_INPUT, `quantity must be between 1 and ${MAX_QUANTITY} (${MAX_COMBO_QUANTITY} for streakable gifts in a combo)`, {
      field: ["input", "quantity"],
    });
  }
  if (cmd.expectedUnitCost !== null && (!Number.isInteger(cmd.expectedUnitCost) || cmd.expectedUnitCost < 1)) {
    throw new DomainError(ErrorCode.INVALID_INPUT, "expectedUnitCost must be a positive number of coins", { field: ["input", "expectedUnitCost"] });
  }
}

/**
 * The quantity rule, given the gift: 1..99 per send; a streakable gift sent in a combo
 * (comboId given) may carry up to 9,999 per send. The combo's running total is checked
 * in the transaction (it depends on earlier sends).
 */
export function checkQuantity(cmd: SendGiftCommand, gift: SendableGift): void {
  if (cmd.comboId !== null && !gift.streakable) {
    throw new DomainError(ErrorCode.INVALID_INPUT, `${gift.name} cannot be sent as a combo`, { field: ["input", "comboId"] });
  }
  const max = cmd.comboId !== null ? MAX_COMBO_QUANTITY : MAX_QUANTITY;
  if (cmd.quantity > max) {
    throw new DomainError(
      ErrorCode.INVALID_INPUT,
      gift.streakable
        ? `at most ${MAX_QUANTITY} per send outside a combo; send it with a comboId for up to ${MAX_COMBO_QUANTITY}`
        : `at most ${MAX_QUANTITY} ${gift.name} per send`,
      { field: ["input", "quantity"] },
    );
  }
  if (gift.coinCost * cmd.quantity > MAX_COINS_PER_SEND) {
    throw new DomainError(ErrorCode.INVALID_INPUT, `one send may cost at most ${MAX_COINS_PER_SEND} coins`, { field: ["input", "quantity"] });
  }
}

const UNAVAILABLE: Record<GiftUnavailableReason, string> = {
  RETIRED: "this gift has been retired",
  NOT_STARTED: "this gift is not available yet",
  ENDED: "this gift is no longer available",
  NOT_IN_REGION: "this gift is not available in your region",
};

// ---------------------------------------------------------------- the gift event

/** A sent gift as the wallet records it. Plain data (sentAt ISO) so an idempotent replay equals the original. */
export interface GiftEventRecord {
  id: string;
  senderId: string;
  senderName: string;
  giftId: string;
  hostId: string;
  liveSessionId: string | null;
  quantity: number;
  unitCost: number;
  coins: number;
  comboId: string | null;
  sentAt: string;
  senderBalanceAfter: number;
  message: string | null;
  anonymous: boolean;
  videoId: string | null;
}

interface GiftEventDbRow {
  id: string;
  sender_id: string;
  sender_name: string;
  gift_id: string;
  host_id: string;
  live_session_id: string | null;
  quantity: number;
  unit_cost: string;
  coins: string;
  combo_id: string | null;
  sent_at: Date;
  sender_balance_after: string;
  message: string | null;
  anonymous: boolean;
  video_id: string | null;
}

function fromRow(r: GiftEventDbRow): GiftEventRecord {
  return {
    id: r.id,
    senderId: r.sender_id,
    senderName: r.sender_name,
    giftId: r.gift_id,
    hostId: r.host_id,
    liveSessionId: r.live_session_id,
    quantity: Number(r.quantity),
    unitCost: Number(r.unit_cost),
    coins: Number(r.coins),
    comboId: r.combo_id,
    sentAt: r.sent_at.toISOString(),
    senderBalanceAfter: Number(r.sender_balance_after),
    message: r.message ?? null,
    anonymous: r.anonymous === true,
    videoId: r.video_id ?? null,
  };
}

/** An owner read failed (network, timeout, 5xx): nothing was written, the same request may be retried. */
export function peerUnavailable(peer: string, cause: unknown): UnavailableError {
  return new UnavailableError(`${peer} is temporarily unavailable; nothing was charged, retry with the same idempotencyKey`, cause);
}

export const SEND_GIFT_OPERATION = "sendGift";

export interface GiftingOptions {
  pricing: GiftPricing;
  hosts: HostDirectory;
  /** The durable per-user sendGift limit (default: MONEY_MUTATION_LIMITS.sendGift in wallet.rate_limits). */
  limiter?: MoneyRateLimiter;
  moderation?: MessageModeration;
  /** Group commit (SEND_BATCH_* in config.ts; default SEND_BATCH_DEFAULTS). */
  batch?: SendBatchConfig;
}

export class GiftingService {
  private readonly pricing: GiftPricing;
  private readonly hosts: HostDirectory;
  private readonly limiter: MoneyRateLimiter;
  private readonly notifier: EventNotifier;
  private readonly moderation: MessageModeration;
  /** Every send's writes go through here: one statement and one commit per batch of concurrent sends. */
  readonly batches: SendBatcher;
  private readonly keys: StoredKeys;

  constructor(
    private readonly ds: DataSource,
    opts: GiftingOptions,
  ) {
    this.pricing = opts.pricing;
    this.hosts = opts.hosts;
    this.limiter = opts.limiter ?? new MoneyRateLimiter("wallet");
    this.moderation = opts.moderation ?? MessageModeration.fromRepoList();
    this.notifier = new EventNotifier(ds);
    this.keys = new StoredKeys(ds);
    this.batches = new SendBatcher(ds, { ...(opts.batch ?? SEND_BATCH_DEFAULTS), rateRule: this.limiter.rules.sendGift, maxCombo: MAX_COMBO_QUANTITY });
  }

  /**
   * Sends a gift for `sender`. Throws DomainError for business failures (nothing changed),
   * UnavailableError (SERVICE_UNAVAILABLE) when an owner read fails. `authorization` is the
   * caller's bearer header, forwarded to the owner subgraphs. `balance`: the sender's wallet after
   * the send's batch, when the batch answered (absent for a replay found on the failure path).
   * `traceparent`: the caller's, which the gift.sent event carries when no span of ours is active.
   */
  async send(sender: AuthUser, cmd: SendGiftCommand, authorization?: string, traceparent?: string): Promise<{ giftEvent: GiftEventRecord; replayed: boolean; balance?: Balance }> {
    checkNumbers(cmd);
    const request = this.requestOf(cmd);
    let unitCost: number;
    try {
      unitCost = await this.check(sender, cmd, authorization);
    } catch (e) {
      // A retry of a request that already succeeded returns it even if the gift has since been
      // retired or repriced, or an owner read fails now: the client must see the original outcome,
      // not a new failure. Looked up only here: on the way that passes, the batch statement's key
      // claim answers a replay itself, so a new send costs no read of its key.
      const previous = await this.replay(sender.id, cmd.idempotencyKey, request);
      if (previous) return { giftEvent: previous, replayed: true };
      throw e;
    }

    // The key claim, the durable per-user limit (taken only for a new key: a replay or a duplicate of
    // an in-flight send never takes a token), the debit and everything it writes: one batch statement.
    const outcome = await this.batches.send(this.prepare(sender, cmd, request, unitCost, traceparent));
    const sent = answer(outcome, cmd.quantity * unitCost);
    // Committed: wake the gift.sent consumer now (the batch statement does not NOTIFY).
    if (!sent.replayed) this.notifier.notify(GIFT_SENT);
    return sent;
  }

  /** Every rule a send must pass before its writes, owner reads included; answers the unit cost. */
  private async check(sender: AuthUser, cmd: SendGiftCommand, authorization?: string): Promise<number> {
    if (!sender.adult) throw new DomainError(ErrorCode.NOT_ADULT, "only verified adults can send gifts");
    if (cmd.hostId === sender.id) throw new DomainError(ErrorCode.CANNOT_GIFT_SELF, "you cannot send a gift to yourself", { field: ["input", "hostId"] });
    if (cmd.videoId !== null && cmd.liveSessionId !== null) {
      throw new DomainError(ErrorCode.INVALID_INPUT, "a gift goes to a live session or to a video, not both", { field: ["input", "videoId"] });
    }

    const [host, session, gift] = await Promise.all([
      this.hosts.hostForGifting(cmd.hostId, authorization).catch((e) => Promise.reject(peerUnavailable("earnings", e))),
      cmd.liveSessionId === null ? null : this.hosts.liveSession(cmd.liveSessionId, authorization).catch((e) => Promise.reject(peerUnavailable("earnings", e))),
      this.pricing.giftForSending(cmd.giftId, sender.region, authorization).catch((e) => Promise.reject(peerUnavailable("catalog", e))),
    ]);
    if (!host || !host.canReceive) throw new DomainError(ErrorCode.HOST_NOT_FOUND, "this host cannot receive gifts", { field: ["input", "hostId"] });
    if (cmd.liveSessionId !== null && (!session || session.hostId !== cmd.hostId || !session.live)) {
      throw new DomainError(ErrorCode.SESSION_NOT_LIVE, "this live session has ended or is not the host's", { field: ["input", "liveSessionId"] });
    }
    if (!gift) throw new DomainError(ErrorCode.GIFT_NOT_AVAILABLE, "no such gift", { field: ["input", "giftId"] });
    if (!gift.sendable) {
      throw new DomainError(ErrorCode.GIFT_NOT_AVAILABLE, gift.reason ? UNAVAILABLE[gift.reason] : "this gift cannot be sent now", { field: ["input", "giftId"] });
    }
    if (!Number.isSafeInteger(gift.coinCost) || gift.coinCost < 1) {
      throw new DomainError(ErrorCode.GIFT_NOT_AVAILABLE, "this gift cannot be sent now", { field: ["input", "giftId"] });
    }
    checkQuantity(cmd, gift);
    this.moderation.check(cmd.message, gift.coinCost * cmd.quantity);
    if (cmd.expectedUnitCost !== null && cmd.expectedUnitCost !== gift.coinCost) {
      throw new DomainError(ErrorCode.PRICE_CHANGED, `the price changed from ${cmd.expectedUnitCost} to ${gift.coinCost} coins`, {
        field: ["input", "expectedUnitCost"],
        currentUnitCost: gift.coinCost,
      });
    }
    return gift.coinCost;
  }

  /** Gift events by id, in order (null for unknown ids): one SELECT for any number. */
  async byIds(ids: readonly string[]): Promise<(GiftEventRecord | null)[]> {
    const valid = [...new Set(ids.filter((x) => UUID.test(x)).map((x) => x.toLowerCase()))];
    const rows: GiftEventDbRow[] = valid.length ? await this.ds.query(`SELECT * FROM wallet.gift_events WHERE id = ANY($1::uuid[])`, [valid]) : [];
    const byId = new Map(rows.map((r) => [r.id, fromRow(r)]));
    return ids.map((x) => byId.get(x.toLowerCase()) ?? null);
  }

  /** What the idempotency key is bound to: the whole input except the key, defaults applied. */
  private requestOf(cmd: SendGiftCommand) {
    const { idempotencyKey: _key, message, anonymous, videoId, ...request } = cmd;
    // The engagement fields join the hash only when set, so keys stored before they existed still replay.
    return { ...request, ...(message !== null && { message }), ...(anonymous && { anonymous }), ...(videoId !== null && { videoId }) };
  }

  private async replay(userId: string, key: string, request: unknown): Promise<GiftEventRecord | null> {
    const row = await this.keys.get(userId, key);
    if (!row) return null;
    if (row.operation !== SEND_GIFT_OPERATION || row.request_hash !== requestHash(SEND_GIFT_OPERATION, request)) {
      throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used with a different request", { field: ["input", "idempotencyKey"] });
    }
    // response is null only while the first call is still in flight: the batch's key claim waits for it.
    return row.response as GiftEventRecord | null;
  }

  /** The send as the batch writes it: the gift event id chosen here, the price fixed, the gift.sent payload built. */
  private prepare(sender: AuthUser, cmd: SendGiftCommand, request: unknown, unitCost: number, traceparent: string | undefined): PreparedSend {
    const coins = unitCost * cmd.quantity;
    const giftEventId = randomUUID();
    return {
      giftEventId,
      senderId: sender.id,
      senderName: sender.name,
      giftId: cmd.giftId,
      hostId: cmd.hostId,
      liveSessionId: cmd.liveSessionId,
      quantity: cmd.quantity,
      unitCost,
      coins,
      comboId: cmd.comboId,
      message: cmd.message,
      anonymous: cmd.anonymous,
      videoId: cmd.videoId,
      idempotencyKey: cmd.idempotencyKey,
      requestHash: requestHash(SEND_GIFT_OPERATION, request),
      // The payload without sentAt, which the statement adds from the row (the database's clock).
      // The event id IS the gift event id: the log's unique constraint makes "one event per gift" a database fact.
      payload: {
        giftEventId,
        senderId: sender.id,
        senderName: sender.name,
        hostId: cmd.hostId,
        liveSessionId: cmd.liveSessionId,
        giftId: cmd.giftId,
        unitCost,
        quantity: cmd.quantity,
        coins,
        comboId: cmd.comboId,
        // Optional payload fields (old consumers ignore them): only when set.
        ...(cmd.message !== null && { message: cmd.message }),
        ...(cmd.anonymous && { anonymous: true }),
        ...(cmd.videoId !== null && { videoId: cmd.videoId }),
        // The active span's (tracing on: the wallet's server span), else the caller's as it came.
        traceparent: currentTraceparent() ?? traceparent,
      },
    };
  }
}

/** A batch outcome as the API answers it: the gift event, or the same error a send on its own gets. */
function answer(o: SendOutcome, coins: number): { giftEvent: GiftEventRecord; replayed: boolean; balance: Balance } {
  switch (o.kind) {
    case "SENT":
    case "REPLAYED":
      return { giftEvent: o.response as GiftEventRecord, replayed: o.kind === "REPLAYED", balance: o.balance };
    case "KEY_REUSED":
      throw new DomainError(ErrorCode.IDEMPOTENCY_KEY_REUSED, "this idempotency key was used with a different request", { field: ["input", "idempotencyKey"] });
    case "IN_FLIGHT":
      throw new UnavailableError("this send is still being processed; retry with the same idempotencyKey");
    case "RATE_LIMITED":
      throw rateLimitError("sendGift", o.retryAfterSeconds);
    case "IN_DEBT":
      throw new DomainError(ErrorCode.IN_DEBT, `sending is blocked while you owe ${o.debt} coins`, { balance: o.balance });
    case "INSUFFICIENT_COINS":
      throw new DomainError(ErrorCode.INSUFFICIENT_COINS, `not enough coins: ${o.balance} available, ${coins} needed`, { balance: o.balance, shortfall: Math.max(0, coins - o.balance) });
    case "COMBO_MISMATCH":
      throw new DomainError(ErrorCode.INVALID_INPUT, "a combo continues one gift to one host; start a new comboId for a different gift, host or session", {
        field: ["input", "comboId"],
      });
    case "COMBO_FULL":
      throw new DomainError(ErrorCode.LIMIT_EXCEEDED, `a combo holds at most ${MAX_COMBO_QUANTITY} gifts (${MAX_COMBO_QUANTITY - o.comboTotal} left); start a new comboId`, {
        field: ["input", "quantity"],
      });
  }
}
