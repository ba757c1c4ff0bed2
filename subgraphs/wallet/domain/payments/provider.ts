/**
 * The payment provider boundary. A real adapter (Stripe, Adyen, ...) implements this;
 * the sandbox (sandbox.ts) behaves like one for development and tests.
 *
 * Every call carries an idempotency key: the provider answers a repeated call with the
 * same payment/refund instead of charging again, so our side may retry safely.
 */
export type ProviderPaymentStatus = "succeeded" | "failed" | "processing" | "requires_action";

export interface ProviderPayment {
  id: string;
  status: ProviderPaymentStatus;
  amountMinor: number;
  currency: string;
  /** Provider decline code (insufficient_funds, stolen_card, expired_card, ...). Internal: never shown raw. */
  failureCode?: string;
  nextAction?: { type: "THREE_D_SECURE"; redirectUrl: string };
}

export interface CreatePaymentRequest {
  idempotencyKey: string;
  orderId: string;
  customerId: string;
  amountMinor: number;
  currency: string;
  method: { type: string; token: string };
}

export interface ProviderRefund {
  id: string;
  paymentId: string;
  status: "succeeded" | "failed";
}

/** The provider could not be reached or answered with an error: the outcome is unknown. */
export class ProviderUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProviderUnavailable";
  }
}

/** The provider refused the request itself (unknown payment method, bad state). Nothing was charged. */
export class ProviderRejected extends Error {
  constructor(readonly code: string, message: string) {
    super(message);
    this.name = "ProviderRejected";
  }
}

export interface PaymentProvider {
  readonly name: string;
  createPayment(req: CreatePaymentRequest): Promise<ProviderPayment>;
  /** Completes a payment that required customer action (3-D Secure). */
  confirmPayment(paymentId: string, idempotencyKey: string): Promise<ProviderPayment>;
  refundPayment(req: { paymentId: string; idempotencyKey: string; amountMinor: number; reason: string }): Promise<ProviderRefund>;
  retrievePayment(paymentId: string): Promise<ProviderPayment | null>;
  /** Cancels a payment still waiting for the customer; returns its final state (it may have succeeded meanwhile). */
  cancelPayment(paymentId: string): Promise<ProviderPayment>;
}

/** Webhook event as the provider posts it (JSON body, signed; see webhook.ts). */
export type WebhookEventType = "payment.succeeded" | "payment.failed" | "payment.refunded" | "payment.charged_back";

export interface WebhookEvent {
  id: string;
  type: WebhookEventType;
  /** Seconds since epoch, when the provider created the event. */
  created: number;
  data: {
    paymentId: string;
    orderId?: string;
    amountMinor?: number;
    currency?: string;
    failureCode?: string;
  };
}

/** What the client may see of a decline: stolen/lost/fraud collapse into a generic decline. */
export function publicFailureCode(providerCode: string | undefined): string {
  switch (providerCode) {
    case "insufficient_funds":
      return "INSUFFICIENT_FUNDS";
    case "expired_card":
      return "EXPIRED_CARD";
    case "authentication_failed":
    case "authentication_abandoned":
      return "AUTHENTICATION_FAILED";
    case "invalid_payment_method":
      return "INVALID_PAYMENT_METHOD";
    case "async_payment_failed":
      return "PAYMENT_FAILED";
    default:
      return "CARD_DECLINED";
  }
}
