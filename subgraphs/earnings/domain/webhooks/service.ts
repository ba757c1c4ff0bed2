import { randomBytes } from "node:crypto";
import { lookup } from "node:dns/promises";
import type { DataSource } from "typeorm";
import { DomainError, ErrorCode } from "../../../../platform/errors.js";
import type { WebhookConfig } from "../../config.js";
import { isUuid } from "../sessions.js";
import { rows } from "../sql.js";
import { checkDestinationUrl, isInternalAddress } from "./destination.js";
import { SUBSCRIPTION_COLUMNS, WEBHOOK_TOPICS, decodeEventCursor, toSubscription, type WebhookSubscriptionRow, type WebhookTopic } from "./model.js";

export interface CreateWebhookInput {
  topics: WebhookTopic[];
  url: string;
  liveSessionId?: string | null;
  hostId?: string | null;
}

export interface WebhookDeliveryRow {
  webhookId: string;
  kind: "verification" | "event";
  eventSeq: number | null;
  attempt: number;
  statusCode: number | null;
  error: string | null;
  latencyMs: number;
  delivered: boolean;
  attemptedAt: Date;
}

export const MAX_DELIVERIES_PAGE = 100;
const MAX_HOST_ID_LENGTH = 200;

function invalid(message: string, field: string[]): DomainError {
  return new DomainError(ErrorCode.INVALID_INPUT, message, { field });
}

/** A partner's webhook subscriptions: create (secret shown once), list, delete, replay, delivery log. */
export class WebhookService {
  constructor(
    private readonly ds: DataSource,
    private readonly config: WebhookConfig,
  ) {}

  async create(partner: string, input: CreateWebhookInput): Promise<WebhookSubscriptionRow> {
    const topics = [...new Set(input.topics)];
    if (topics.length === 0 || topics.some((t) => !WEBHOOK_TOPICS.includes(t))) throw invalid(`topics must be one or more of ${WEBHOOK_TOPICS.join(", ")}`, ["input", "topics"]);
    const url = await this.checkUrl(input.url);
    const liveSessionId = input.liveSessionId ?? null;
    if (liveSessionId !== null && !isUuid(liveSessionId)) throw invalid("liveSessionId is not a live session id", ["input", "liveSessionId"]);
    const hostId = input.hostId ?? null;
    if (hostId !== null && (hostId.length < 1 || hostId.length > MAX_HOST_ID_LENGTH)) throw invalid(`hostId must be 1 to ${MAX_HOST_ID_LENGTH} characters`, ["input", "hostId"]);
    const secret = `whsec_${randomBytes(32).toString("hex")}`;
    return this.ds.transaction(async (m) => {
      // Serializes one partner's creations so the cap cannot be raced past.
      await m.query(`SELECT pg_advisory_xact_lock(hashtext('earnings:webhooks:' || $1))`, [partner]);
      const [{ n }] = await m.query(`SELECT count(*)::int AS n FROM earnings.webhook_subscriptions WHERE partner = $1 AND status <> 'DELETED'`, [partner]);
      if (n >= this.config.maxSubscriptionsPerPartner) {
        throw new DomainError(ErrorCode.LIMIT_EXCEEDED, `at most ${this.config.maxSubscriptionsPerPartner} webhook subscriptions per partner; delete one first`);
      }
      // Events from now on: the cursor starts at the newest committed event.
      const [row] = await m.query(
        `INSERT INTO earnings.webhook_subscriptions (partner, topics, url, live_session_id, host_id, secret, cursor_seq)
         VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(max(seq), 0) FROM earnings.webhook_events))
         RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [partner, topics, url.toString(), liveSessionId, hostId, secret],
      );
      return toSubscription(row);
    });
  }

  /** Syntax and policy, then (production) the name must resolve to at least one public address. */
  private async checkUrl(raw: string): Promise<URL> {
    const checked = checkDestinationUrl(raw, this.config.production);
    if (!checked.ok) throw invalid(checked.reason, ["input", "url"]);
    if (this.config.production) {
      const addresses = await lookup(checked.url.hostname.replace(/^\[|\]$/g, ""), { all: true }).catch(() => []);
      if (addresses.length === 0) throw invalid("url's host does not resolve", ["input", "url"]);
      if (addresses.every((a) => isInternalAddress(a.address))) throw invalid("url must not point to a private, loopback or link-local address", ["input", "url"]);
    }
    return checked.url;
  }

  async list(partner: string): Promise<WebhookSubscriptionRow[]> {
    const rows = await this.ds.query(`SELECT ${SUBSCRIPTION_COLUMNS} FROM earnings.webhook_subscriptions WHERE partner = $1 AND status <> 'DELETED' ORDER BY created_at, id`, [partner]);
    return rows.map(toSubscription);
  }

  /** Another partner's subscription looks like no subscription: ids are not an oracle. */
  async get(partner: string, id: string): Promise<WebhookSubscriptionRow> {
    if (!isUuid(id)) throw invalid("id is not a webhook subscription id", ["id"]);
    const [row] = await this.ds.query(`SELECT ${SUBSCRIPTION_COLUMNS} FROM earnings.webhook_subscriptions WHERE id = $1 AND partner = $2 AND status <> 'DELETED'`, [id, partner]);
    if (!row) throw new DomainError(ErrorCode.NOT_FOUND, "no such webhook subscription");
    return toSubscription(row);
  }

  async delete(partner: string, id: string): Promise<string> {
    await this.get(partner, id);
    await this.ds.query(`UPDATE earnings.webhook_subscriptions SET status = 'DELETED', lease_owner = NULL, updated_at = now() WHERE id = $1`, [id]);
    return id;
  }

  /**
   * Redeliver every matching event after `after`, in order, with new Webhook-Ids (a new
   * generation). Re-enables a subscription disabled for failing deliveries; one whose
   * verification failed must be created again.
   */
  async replay(partner: string, id: string, after: string): Promise<WebhookSubscriptionRow> {
    const sub = await this.get(partner, id);
    const seq = decodeEventCursor(after);
    if (seq === null) throw invalid("after is not a webhook event cursor", ["after"]);
    if (sub.status === "VERIFICATION_FAILED" || sub.status === "VERIFICATION_PENDING") throw new DomainError(ErrorCode.INVALID_STATE, "the subscription is not verified; nothing was delivered yet");
    const [{ oldest, newest }] = await this.ds.query(`SELECT min(seq) AS oldest, max(seq) AS newest FROM earnings.webhook_events`);
    if (newest !== null && seq > Number(newest)) throw invalid("after is ahead of the newest event", ["after"]);
    if (oldest !== null && seq < Number(oldest) - 1) throw invalid("after is older than the retention window; events before it are gone", ["after"]);
    const [row] = await rows(
      this.ds,
      `UPDATE earnings.webhook_subscriptions
          SET cursor_seq = $2, replay_generation = replay_generation + 1, status = 'ENABLED', status_reason = NULL,
              attempts = 0, failing_since = NULL, next_attempt_at = now(), updated_at = now()
        WHERE id = $1 RETURNING ${SUBSCRIPTION_COLUMNS}`,
      [id, seq],
    );
    await this.ds.query(`SELECT pg_notify('earnings_webhook_events', '')`);
    return toSubscription(row);
  }

  async deliveries(partner: string, id: string, first: number): Promise<WebhookDeliveryRow[]> {
    if (!Number.isInteger(first) || first < 1 || first > MAX_DELIVERIES_PAGE) throw invalid(`first must be 1 to ${MAX_DELIVERIES_PAGE}`, ["first"]);
    await this.get(partner, id);
    const rows = await this.ds.query(
      `SELECT webhook_id, kind, event_seq, attempt, status_code, error, latency_ms, delivered, attempted_at
         FROM earnings.webhook_deliveries WHERE subscription_id = $1 ORDER BY id DESC LIMIT $2`,
      [id, first],
    );
    return rows.map((r: any) => ({
      webhookId: r.webhook_id, kind: r.kind, eventSeq: r.event_seq === null ? null : Number(r.event_seq), attempt: r.attempt,
      statusCode: r.status_code, error: r.error, latencyMs: r.latency_ms, delivered: r.delivered, attemptedAt: r.attempted_at,
    }));
  }
}
