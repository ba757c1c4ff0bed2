import { randomUUID } from "node:crypto";
import { logger } from "../../../../platform/logger.js";
import {
  ProviderRejected,
  type CreatePaymentRequest,
  type PaymentProvider,
  type ProviderPayment,
  type ProviderRefund,
  type WebhookEvent,
  type WebhookEventType,
} from "./provider.js";
import { SIGNATURE_HEADER, signPayload } from "../../../../platform/signature.js";

/** The sandbox's test payment methods (like a real provider's test cards). */
export const SANDBOX_TOKENS = {
  pm_card_ok: "succeeds at once",
  pm_card_declined_insufficient_funds: "declined: insufficient funds",
  pm_card_declined_stolen: "declined: stolen card (shown to the client as a generic decline)",
  pm_card_expired: "declined: expired card",
  pm_card_3ds: "requires 3-D Secure (REQUIRES_ACTION), succeeds on confirmRecharge",
  pm_async_ok: "PENDING, later succeeds via the webhook",
  pm_async_fail: "PENDING, later fails via the webhook",
} as const;

export interface SandboxOptions {
  /** Where the sandbox posts its webhooks (the wallet's own /webhooks/payments). */
  webhookUrl?: string;
  webhookSecret: string;
  /** Send a webhook for every final outcome, as a real provider does. Off in tests, which deliver by hand. */
  autoWebhooks: boolean;
  /** pm_async_* settle by themselves after this many ms (null: only when settle() is called). */
  autoSettleMs: number | null;
}

interface SandboxPayment extends ProviderPayment {
  token: string;
  orderId: string;
  /** Refunded so far (partial refunds add up to at most amountMinor). */
  refundedMinor: number;
  chargedBack: boolean;
}

/**
 * An in-process provider that behaves like a real one: idempotent by key, declines by
 * token, 3-D Secure, asynchronous settlement and signed webhooks over real HTTP.
 */
export class SandboxPaymentProvider implements PaymentProvider {
  readonly name = "sandbox";
  private readonly payments = new Map<string, SandboxPayment>();
  private readonly byKey = new Map<string, string>();
  private readonly refunds = new Map<string, ProviderRefund>();
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Counters tests read: how many charges/refunds the "bank" really saw. */
  readonly stats = { createCalls: 0, paymentsCreated: 0, confirmCalls: 0, refundsCreated: 0, refundedMinor: 0, webhooksSent: 0 };

  constructor(public options: SandboxOptions) {}

  async createPayment(req: CreatePaymentRequest): Promise<ProviderPayment> {
    this.stats.createCalls++;
    const existing = this.byKey.get(req.idempotencyKey);
    if (existing) return this.view(this.payments.get(existing)!);
    if (!(req.method.token in SANDBOX_TOKENS)) {
      throw new ProviderRejected("invalid_payment_method", "unknown payment method token");
    }
    const id = `pay_${randomUUID().replace(/-/g, "")}`;
    const p: SandboxPayment = {
      id,
      status: "processing",
      amountMinor: req.amountMinor,
      currency: req.currency,
      token: req.method.token,
      orderId: req.orderId,
      refundedMinor: 0,
      chargedBack: false,
    };
    switch (req.method.token as keyof typeof SANDBOX_TOKENS) {
      case "pm_card_ok":
        p.status = "succeeded";
        break;
      case "pm_card_declined_insufficient_funds":
        Object.assign(p, { status: "failed", failureCode: "insufficient_funds" });
        break;
      case "pm_card_declined_stolen":
        Object.assign(p, { status: "failed", failureCode: "stolen_card" });
        break;
      case "pm_card_expired":
        Object.assign(p, { status: "failed", failureCode: "expired_card" });
        break;
      case "pm_card_3ds":
        Object.assign(p, { status: "requires_action", nextAction: { type: "THREE_D_SECURE", redirectUrl: `https://sandbox.pay.example/3ds/${id}` } });
        break;
      case "pm_async_ok":
      case "pm_async_fail":
        p.status = "processing";
        if (this.options.autoSettleMs !== null) this.later(this.options.autoSettleMs, () => this.settle(id));
        break;
    }
    this.payments.set(id, p);
    this.byKey.set(req.idempotencyKey, id);
    this.stats.paymentsCreated++;
    if (p.status === "succeeded" || p.status === "failed") this.autoWebhook(p);
    return this.view(p);
  }

  async confirmPayment(paymentId: string, _idempotencyKey: string): Promise<ProviderPayment> {
    this.stats.confirmCalls++;
    const p = this.payments.get(paymentId);
    if (!p) throw new ProviderRejected("no_such_payment", "no such payment");
    if (p.status === "requires_action") {
      p.status = "succeeded";
      delete p.nextAction;
      this.autoWebhook(p);
    }
    return this.view(p);
  }

  async refundPayment(req: { paymentId: string; idempotencyKey: string; amountMinor: number; reason: string }): Promise<ProviderRefund> {
    const done = this.refunds.get(req.idempotencyKey);
    if (done) return done;
    const p = this.payments.get(req.paymentId);
    if (!p) throw new ProviderRejected("no_such_payment", "no such payment");
    if (p.status !== "succeeded" || p.chargedBack) throw new ProviderRejected("not_refundable", "payment cannot be refunded");
    if (p.refundedMinor >= p.amountMinor) throw new ProviderRejected("already_refunded", "payment already refunded");
    // Partial refunds, like a real provider: several, adding up to at most the payment.
    if (!Number.isSafeInteger(req.amountMinor) || req.amountMinor < 1 || p.refundedMinor + req.amountMinor > p.amountMinor) {
      throw new ProviderRejected("amount_exceeds_payment", "refund amount exceeds what is left of the payment");
    }
    p.refundedMinor += req.amountMinor;
    const refund: ProviderRefund = { id: `re_${randomUUID().replace(/-/g, "")}`, paymentId: p.id, status: "succeeded" };
    this.refunds.set(req.idempotencyKey, refund);
    this.stats.refundsCreated++;
    this.stats.refundedMinor += req.amountMinor;
    // payment.refunded means "refunded in full" (the wallet reverses the rest); partial refunds are reported by our own call's answer.
    if (this.options.autoWebhooks && p.refundedMinor === p.amountMinor) void this.deliver(this.event(p, "payment.refunded")).catch(() => undefined);
    return refund;
  }

  async retrievePayment(paymentId: string): Promise<ProviderPayment | null> {
    const p = this.payments.get(paymentId);
    return p ? this.view(p) : null;
  }

  async cancelPayment(paymentId: string): Promise<ProviderPayment> {
    const p = this.payments.get(paymentId);
    if (!p) throw new ProviderRejected("no_such_payment", "no such payment");
    if (p.status === "requires_action") {
      Object.assign(p, { status: "failed", failureCode: "authentication_abandoned" });
      delete p.nextAction;
    }
    return this.view(p);
  }

  // ---- sandbox-only controls (tests, demos) ----

  /** Settles a pm_async_* payment (ok → succeeded, fail → failed) and delivers its webhook. Returns the event. */
  async settle(paymentId: string): Promise<WebhookEvent | null> {
    const p = this.payments.get(paymentId);
    if (!p || p.status !== "processing") return null;
    if (p.token === "pm_async_ok") p.status = "succeeded";
    else Object.assign(p, { status: "failed", failureCode: "async_payment_failed" });
    const event = this.event(p, p.status === "succeeded" ? "payment.succeeded" : "payment.failed");
    await this.deliver(event).catch((e) => logger.warn({ err: String(e) }, "sandbox webhook delivery failed"));
    return event;
  }

  /** The cardholder disputes a succeeded payment: the provider takes the money back and tells us. */
  async chargeback(paymentId: string): Promise<WebhookEvent> {
    const p = this.payments.get(paymentId);
    if (!p || p.status !== "succeeded") throw new Error("only a succeeded payment can be charged back");
    p.chargedBack = true;
    const event = this.event(p, "payment.charged_back");
    await this.deliver(event);
    return event;
  }

  /** Builds the event a real provider would send for this payment (not delivered). */
  event(p: { id: string; orderId?: string; amountMinor: number; currency: string; failureCode?: string }, type: WebhookEventType): WebhookEvent {
    return {
      id: `evt_${randomUUID().replace(/-/g, "")}`,
      type,
      created: Math.floor(Date.now() / 1000),
      data: { paymentId: p.id, orderId: p.orderId, amountMinor: p.amountMinor, currency: p.currency, failureCode: p.failureCode },
    };
  }

  payment(paymentId: string): ProviderPayment | undefined {
    const p = this.payments.get(paymentId);
    return p && { ...this.view(p), orderId: p.orderId } as ProviderPayment;
  }

  /** Signs and POSTs an event to the webhook URL; returns the HTTP status. */
  async deliver(event: WebhookEvent, opts: { timestamp?: number; secret?: string } = {}): Promise<number> {
    if (!this.options.webhookUrl) throw new Error("sandbox has no webhook URL");
    const body = JSON.stringify(event);
    const signature = signPayload(opts.secret ?? this.options.webhookSecret, body, opts.timestamp ?? Math.floor(Date.now() / 1000));
    const res = await fetch(this.options.webhookUrl, { method: "POST", headers: { "content-type": "application/json", [SIGNATURE_HEADER]: signature }, body });
    await res.arrayBuffer();
    this.stats.webhooksSent++;
    return res.status;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private autoWebhook(p: SandboxPayment): void {
    if (!this.options.autoWebhooks || !this.options.webhookUrl) return;
    const event = this.event(p, p.status === "succeeded" ? "payment.succeeded" : "payment.failed");
    // Like a real provider: asynchronously, possibly before or after our own API call returns.
    this.later(0, () => this.deliver(event).catch(() => undefined));
  }

  private later(ms: number, fn: () => unknown): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private view(p: SandboxPayment): ProviderPayment {
    const { id, status, amountMinor, currency, failureCode, nextAction } = p;
    return { id, status, amountMinor, currency, failureCode, nextAction };
  }
}
