/** Partner webhook vocabulary shared by the service, the dispatcher and the schema. */
export const WEBHOOK_TOPICS = ["LIVE_GIFT", "LIVE_STARTED", "LIVE_ENDED", "GOAL_REACHED"] as const;
export type WebhookTopic = (typeof WEBHOOK_TOPICS)[number];

export const WEBHOOK_STATUSES = ["VERIFICATION_PENDING", "ENABLED", "VERIFICATION_FAILED", "DISABLED", "DELETED"] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

/** Headers of every POST (lower case on the wire; receivers read them case-insensitively). */
export const WEBHOOK_ID_HEADER = "Webhook-Id";
export const WEBHOOK_SIGNATURE_HEADER = "Webhook-Signature";
export const WEBHOOK_TOPIC_HEADER = "Webhook-Topic";
export const WEBHOOK_ATTEMPT_HEADER = "Webhook-Attempt";
export const VERIFICATION_TYPE = "webhook_callback_verification";

export interface WebhookSubscriptionRow {
  id: string;
  partner: string;
  topics: WebhookTopic[];
  url: string;
  liveSessionId: string | null;
  hostId: string | null;
  secret: string;
  status: WebhookStatus;
  statusReason: string | null;
  cursorSeq: number;
  replayGeneration: number;
  attempts: number;
  failingSince: Date | null;
  createdAt: Date;
}

export const SUBSCRIPTION_COLUMNS = `id, partner, topics, url, live_session_id, host_id, secret, status, status_reason, cursor_seq, replay_generation, attempts, failing_since, created_at`;

export function toSubscription(r: Record<string, any>): WebhookSubscriptionRow {
  return {
    id: r.id,
    partner: r.partner,
    topics: r.topics,
    url: r.url,
    liveSessionId: r.live_session_id,
    hostId: r.host_id,
    secret: r.secret,
    status: r.status,
    statusReason: r.status_reason,
    cursorSeq: Number(r.cursor_seq),
    replayGeneration: Number(r.replay_generation),
    attempts: Number(r.attempts),
    failingSince: r.failing_since,
    createdAt: r.created_at,
  };
}

export interface WebhookEventRow {
  seq: number;
  topic: WebhookTopic;
  payload: Record<string, unknown>;
  createdAt: Date;
}

/** Opaque event cursor (`base64url("wh1:<seq>")`), the same in bodies, the log and replay. */
export function encodeEventCursor(seq: number): string {
  return Buffer.from(`wh1:${seq}`).toString("base64url");
}

export function decodeEventCursor(cursor: string): number | null {
  if (cursor.length > 64) return null;
  const m = /^wh1:(\d{1,15})$/.exec(Buffer.from(cursor, "base64url").toString());
  return m ? Number(m[1]) : null;
}

/** Stays the same across retries of one event; a replay starts a new generation so deduplicating receivers still take it. */
export function webhookId(subscriptionId: string, seq: number, generation: number): string {
  return `wh_${subscriptionId.replace(/-/g, "")}_${seq}_${generation}`;
}
