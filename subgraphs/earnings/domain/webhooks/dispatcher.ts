import { randomBytes, randomUUID } from "node:crypto";
import type { DataSource } from "typeorm";
import { logger } from "../../../../platform/logger.js";
import { PgListener } from "../../../../platform/pg-listener.js";
import { signPayload } from "../../../../platform/signature.js";
import type { WebhookConfig } from "../../config.js";
import { rows } from "../sql.js";
import { checkDestinationUrl } from "./destination.js";
import {
  SUBSCRIPTION_COLUMNS, VERIFICATION_TYPE, WEBHOOK_ATTEMPT_HEADER, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TOPIC_HEADER,
  encodeEventCursor, toSubscription, webhookId, type WebhookEventRow, type WebhookSubscriptionRow,
} from "./model.js";
import { postJson, type PostResult } from "./post.js";

export const WEBHOOK_CHANNEL = "earnings_webhook_events";
/** Events one lease delivers before the subscription goes back in the queue (fairness between partners). */
const EVENTS_PER_LEASE = 100;
/** A network failure during verification is retried this often before the subscription fails. */
const VERIFICATION_ATTEMPTS = 5;
const CLEANUP_EVERY_MS = 60_000;

export interface DispatcherOptions {
  databaseUrl: string;
  config: WebhookConfig;
  /** How long a claimed subscription stays ours without progress (must exceed one attempt's timeout). */
  leaseMs?: number;
}

/**
 * Delivers partner webhooks: at least once, in order per subscription, one receiver never
 * holding up another. Every earnings instance may run one: a subscription is worked by the
 * instance holding its lease (claimed with SKIP LOCKED, renewed on every step, written only
 * while still held), so instances share the work without double delivery in the normal case.
 * A crash after the receiver answered but before the cursor moved redelivers that event with
 * the same Webhook-Id: receivers deduplicate on it.
 */
export class WebhookDispatcher {
  readonly owner = `${process.pid}-${randomUUID().slice(0, 8)}`;
  private readonly listener: PgListener;
  private readonly inFlight = new Set<string>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = true;
  private ticking = false;
  private again = false;
  private lastCleanup = 0;
  readonly leaseMs: number;
  readonly stats = { attempts: 0, delivered: 0, failed: 0, disabled: 0 };

  constructor(
    private readonly ds: DataSource,
    private readonly opts: DispatcherOptions,
  ) {
    this.leaseMs = opts.leaseMs ?? Math.max(15_000, opts.config.timeoutMs * 3);
    if (this.leaseMs <= opts.config.timeoutMs) throw new Error("the webhook lease must be longer than one attempt's timeout");
    this.listener = new PgListener({
      databaseUrl: opts.databaseUrl,
      channel: WEBHOOK_CHANNEL,
      name: "earnings-webhook-dispatcher",
      onNotify: () => this.wake(),
      onListening: () => this.wake(),
    });
  }

  private get config(): WebhookConfig {
    return this.opts.config;
  }

  async start(): Promise<void> {
    this.stopped = false;
    await this.listener.start();
    this.timer = setInterval(() => this.wake(), this.config.pollMs);
    this.timer.unref();
    this.wake();
  }

  /** Stops claiming; attempts in flight finish (each is bounded by its timeout). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.listener.stop();
    const deadline = Date.now() + this.config.timeoutMs + 1000;
    while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = true;
    void this.tick()
      .catch((err: unknown) => logger.warn({ err: String(err) }, "webhook dispatcher tick failed"))
      .finally(() => {
        this.ticking = false;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async tick(): Promise<void> {
    await this.cleanup();
    const room = this.config.maxConcurrency - this.inFlight.size;
    if (room <= 0) return;
    for (const sub of await this.claim(room)) {
      this.inFlight.add(sub.id);
      void this.drive(sub)
        .catch((err: unknown) => logger.warn({ err: String(err), subscription: sub.id }, "webhook delivery step failed"))
        .finally(() => {
          this.inFlight.delete(sub.id);
          this.wake(); // more may be due (this one included)
        });
    }
  }

  /** Due subscriptions with work to do, leased to this instance. */
  private async claim(limit: number): Promise<WebhookSubscriptionRow[]> {
    const claimed = await rows(
      this.ds,
      `UPDATE earnings.webhook_subscriptions s SET lease_owner = $1, lease_until = now() + make_interval(secs => $2)
        WHERE s.id IN (
          SELECT c.id FROM earnings.webhook_subscriptions c
           WHERE c.status IN ('VERIFICATION_PENDING', 'ENABLED') AND c.next_attempt_at <= now()
             AND (c.lease_until IS NULL OR c.lease_until < now()) AND NOT (c.id = ANY($4::uuid[]))
             AND (c.status = 'VERIFICATION_PENDING' OR EXISTS (
                   SELECT 1 FROM earnings.webhook_events e
                    WHERE e.seq > c.cursor_seq AND e.topic = ANY(c.topics)
                      AND (c.live_session_id IS NULL OR e.live_session_id = c.live_session_id)
                      AND (c.host_id IS NULL OR e.host_id = c.host_id)))
           ORDER BY c.next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED)
        RETURNING ${SUBSCRIPTION_COLUMNS.split(", ").map((c) => `s.${c}`).join(", ")}`,
      [this.owner, this.leaseMs / 1000, limit, [...this.inFlight]],
    );
    return claimed.map(toSubscription);
  }

  private async drive(sub: WebhookSubscriptionRow): Promise<void> {
    if (sub.status === "VERIFICATION_PENDING") return this.verify(sub);
    for (let i = 0; i < EVENTS_PER_LEASE && !this.stopped; i++) {
      const event = await this.nextEvent(sub);
      if (!event) break;
      const ok = await this.deliver(sub, event);
      if (!ok) return; // backoff scheduled; the lease is released
      sub.cursorSeq = event.seq;
      sub.attempts = 0;
      sub.failingSince = null;
    }
    await this.release(sub.id);
  }

  private async nextEvent(sub: WebhookSubscriptionRow): Promise<WebhookEventRow | null> {
    const [row] = await this.ds.query(
      `SELECT seq, topic, payload, created_at FROM earnings.webhook_events
        WHERE seq > $1 AND topic = ANY($2) AND ($3::text IS NULL OR live_session_id = $3) AND ($4::text IS NULL OR host_id = $4)
        ORDER BY seq LIMIT 1`,
      [sub.cursorSeq, sub.topics, sub.liveSessionId, sub.hostId],
    );
    return row ? { seq: Number(row.seq), topic: row.topic, payload: row.payload, createdAt: row.created_at } : null;
  }

  private async post(sub: WebhookSubscriptionRow, id: string, topic: string, body: string, attempt: number): Promise<PostResult> {
    const checked = checkDestinationUrl(sub.url, this.config.production);
    if (!checked.ok) return { statusCode: null, body: "", error: checked.reason, latencyMs: 0 };
    const timestamp = Math.floor(Date.now() / 1000);
    this.stats.attempts++;
    return postJson(
      checked.url,
      body,
      { [WEBHOOK_ID_HEADER]: id, [WEBHOOK_SIGNATURE_HEADER]: signPayload(sub.secret, body, timestamp), [WEBHOOK_TOPIC_HEADER]: topic, [WEBHOOK_ATTEMPT_HEADER]: String(attempt) },
      { timeoutMs: this.config.timeoutMs, production: this.config.production },
    );
  }

  /** EventSub's handshake: the receiver proves it wants these events by echoing a random challenge. */
  private async verify(sub: WebhookSubscriptionRow): Promise<void> {
    const challenge = randomBytes(24).toString("base64url");
    const id = `${webhookId(sub.id, 0, sub.replayGeneration)}_verify`;
    const body = JSON.stringify({ type: VERIFICATION_TYPE, id, subscriptionId: sub.id, topics: sub.topics, challenge });
    const attempt = sub.attempts + 1;
    const r = await this.post(sub, id, "VERIFICATION", body, attempt);
    const answered = r.statusCode !== null;
    const ok = r.statusCode === 200 && r.body === challenge;
    await this.log(sub.id, id, "verification", null, attempt, r, ok);
    if (ok) {
      await this.update(sub.id, `status = 'ENABLED', status_reason = NULL, attempts = 0, failing_since = NULL, next_attempt_at = now()`);
      this.wake();
    } else if (answered || attempt >= VERIFICATION_ATTEMPTS) {
      const why = answered ? `verification answered ${r.statusCode}${r.statusCode === 200 ? " without echoing the challenge" : ""}` : `verification failed ${attempt} times: ${r.error}`;
      await this.update(sub.id, `status = 'VERIFICATION_FAILED', status_reason = $3, lease_owner = NULL`, [why]);
    } else {
      await this.scheduleRetry(sub, attempt);
    }
  }

  private async deliver(sub: WebhookSubscriptionRow, event: WebhookEventRow): Promise<boolean> {
    const id = webhookId(sub.id, event.seq, sub.replayGeneration);
    const cursor = encodeEventCursor(event.seq);
    const body = JSON.stringify({ id, subscriptionId: sub.id, topic: event.topic, cursor, createdAt: new Date(event.createdAt).toISOString(), event: event.payload });
    const attempt = sub.attempts + 1;
    const r = await this.post(sub, id, event.topic, body, attempt);
    const ok = r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300;
    await this.log(sub.id, id, "event", event.seq, attempt, r, ok);
    if (!ok) {
      this.stats.failed++;
      await this.scheduleRetry(sub, attempt);
      return false;
    }
    this.stats.delivered++;
    // Only while the lease is still ours: a stale dispatcher must not move a cursor another one owns now.
    const moved = await this.update(
      sub.id,
      `cursor_seq = GREATEST(cursor_seq, $3), attempts = 0, failing_since = NULL, lease_until = now() + make_interval(secs => $4)`,
      [event.seq, this.leaseMs / 1000],
    );
    return moved;
  }

  /** Exponential backoff with equal jitter; past the retry window the subscription is disabled with the reason. */
  private async scheduleRetry(sub: WebhookSubscriptionRow, attempt: number): Promise<void> {
    const failingSince = sub.failingSince ?? new Date();
    if (Date.now() - failingSince.getTime() >= this.config.retryWindowMs) {
      this.stats.disabled++;
      const reason = `disabled after ${attempt} failed attempts since ${failingSince.toISOString()} (retry window ${Math.round(this.config.retryWindowMs / 1000)} s); replay from your last cursor once the receiver is fixed`;
      await this.update(sub.id, `status = 'DISABLED', status_reason = $3, attempts = $4, lease_owner = NULL, lease_until = NULL`, [reason, attempt]);
      return;
    }
    const ceiling = Math.min(this.config.backoffMaxMs, this.config.backoffBaseMs * 2 ** Math.min(attempt - 1, 30));
    const delayMs = Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
    await this.update(
      sub.id,
      `attempts = $3, failing_since = COALESCE(failing_since, now()), next_attempt_at = now() + make_interval(secs => $4), lease_owner = NULL, lease_until = NULL`,
      [attempt, delayMs / 1000],
    );
  }

  private async release(id: string): Promise<void> {
    await this.update(id, `lease_owner = NULL, lease_until = NULL`);
  }

  /** Writes only while this instance holds the lease; false when it was lost. */
  private async update(id: string, set: string, params: unknown[] = []): Promise<boolean> {
    const updated = await rows(
      this.ds,
      `UPDATE earnings.webhook_subscriptions SET ${set}, updated_at = now() WHERE id = $1 AND lease_owner = $2 AND status <> 'DELETED' RETURNING id`,
      [id, this.owner, ...params],
    );
    return updated.length > 0;
  }

  private async log(subscriptionId: string, id: string, kind: "verification" | "event", seq: number | null, attempt: number, r: PostResult, delivered: boolean): Promise<void> {
    await this.ds.query(
      `INSERT INTO earnings.webhook_deliveries (subscription_id, webhook_id, kind, event_seq, attempt, status_code, error, latency_ms, delivered)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
      [subscriptionId, id, kind, seq, attempt, r.statusCode, r.error?.slice(0, 500) ?? null, r.latencyMs, delivered],
    );
  }

  /** Retention: events and log rows older than the window go (replay reaches back that far). */
  private async cleanup(): Promise<void> {
    if (Date.now() - this.lastCleanup < CLEANUP_EVERY_MS) return;
    this.lastCleanup = Date.now();
    const secs = this.config.retentionMs / 1000;
    await this.ds.query(`DELETE FROM earnings.webhook_events WHERE created_at < now() - make_interval(secs => $1)`, [secs]);
    await this.ds.query(`DELETE FROM earnings.webhook_deliveries WHERE attempted_at < now() - make_interval(secs => $1)`, [secs]);
  }
}
