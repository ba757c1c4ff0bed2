import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { DataSource } from "typeorm";
import { sendJson, type Route } from "../../platform/http.js";
import { loadConfig } from "../../platform/config.js";
import { logger } from "../../platform/logger.js";
import { MoneyRateLimiter } from "../../platform/money-rate-limit.js";
import { loadWalletConfig, type WalletPurchaseConfig } from "./config.js";
import { SandboxPaymentProvider } from "./domain/payments/sandbox.js";
import { SIGNATURE_HEADER, verifySignature } from "../../platform/signature.js";
import type { WebhookEvent } from "./domain/payments/provider.js";
import { RechargeService } from "./domain/recharge.js";
import { CoinPackageService } from "./domain/coin-packages.js";
import { HistoryService } from "./domain/history.js";
import { SpendingLimitService } from "./domain/spending-limit.js";

/** The purchase side of the wallet (issue 3): recharge, payments, limits, history, the provider webhook. */
export interface PurchaseServices {
  recharge: RechargeService;
  /** The payment provider; the sandbox in development and tests. */
  payments: SandboxPaymentProvider;
  history: HistoryService;
  spendingLimits: SpendingLimitService;
  /** Admin management of coin packages, prices and promotions (domain/coin-packages.ts). */
  coinPackages: CoinPackageService;
  purchaseConfig: WalletPurchaseConfig;
}

export const WEBHOOK_PATH = "/webhooks/payments";

export function purchaseServices(ds: DataSource, config: WalletPurchaseConfig = loadWalletConfig()): PurchaseServices {
  const payments = new SandboxPaymentProvider({
    webhookSecret: config.webhookSecret,
    autoWebhooks: config.sandboxAutoWebhooks,
    autoSettleMs: config.sandboxAutoSettleMs,
  });
  const recharge = new RechargeService(ds, payments, { velocity: config.velocity, limiter: new MoneyRateLimiter("wallet", loadConfig().moneyRateLimits) });
  const coinPackages = new CoinPackageService(ds, async (code) => (await recharge.regions()).find((r) => r.region === code) ?? null);
  return { recharge, payments, history: new HistoryService(ds), spendingLimits: new SpendingLimitService(ds, recharge), coinPackages, purchaseConfig: config };
}

/** The reconciler: asks the provider about orders that waited too long (lost webhooks). */
export async function startPurchaseBackground(s: PurchaseServices): Promise<() => Promise<void>> {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> = Promise.resolve();
  if (s.purchaseConfig.reconcileEveryMs > 0) {
    timer = setInterval(() => {
      running = s.recharge.reconcile().catch((e) => logger.warn({ err: String(e) }, "reconcile failed"));
    }, s.purchaseConfig.reconcileEveryMs);
    timer.unref();
  }
  return async () => {
    if (timer) clearInterval(timer);
    s.payments.stop();
    await running;
  };
}

/** The sandbox posts its webhooks to this very server once it knows its port. */
export async function attachPurchase(server: Server, s: PurchaseServices): Promise<() => Promise<void>> {
  server.once("listening", () => {
    const { port } = server.address() as AddressInfo;
    s.payments.options.webhookUrl ??= `http://127.0.0.1:${port}${WEBHOOK_PATH}`;
  });
  return async () => {};
}

/**
 * POST /webhooks/payments — the provider reports asynchronous outcomes, refunds and chargebacks.
 * Only a correctly signed, fresh request is acted upon; 2xx means "stored, do not resend",
 * 5xx asks the provider to retry later.
 */
export function purchaseRoutes(s: PurchaseServices): Route[] {
  return [
    async (req, res, body) => {
      const path = (req.url ?? "/").split("?")[0];
      if (path !== WEBHOOK_PATH) return false;
      if (req.method !== "POST") {
        sendJson(res, 405, { error: "method not allowed" }, { allow: "POST" });
        return true;
      }
      const raw = body ?? Buffer.alloc(0);
      const header = req.headers[SIGNATURE_HEADER];
      const check = verifySignature(s.purchaseConfig.webhookSecret, typeof header === "string" ? header : undefined, raw, Math.floor(Date.now() / 1000), s.purchaseConfig.webhookToleranceSeconds);
      if (!check.ok) {
        // The reason is logged for operators, not told to the caller.
        logger.warn({ reason: check.reason }, "payment webhook rejected: bad signature");
        sendJson(res, 400, { error: "invalid signature" });
        return true;
      }
      const event = parseEvent(raw);
      if (!event) {
        sendJson(res, 400, { error: "malformed event" });
        return true;
      }
      try {
        const result = await s.recharge.applyWebhook(event);
        sendJson(res, 200, { received: true, ...result });
      } catch (e) {
        logger.error({ eventId: event.id, err: e instanceof Error ? e.message : String(e) }, "payment webhook failed; provider will retry");
        sendJson(res, 500, { error: "temporarily unable to process; retry" });
      }
      return true;
    },
  ];
}

const EVENT_TYPES = new Set(["payment.succeeded", "payment.failed", "payment.refunded", "payment.charged_back"]);

function parseEvent(raw: Buffer): WebhookEvent | null {
  let v: any;
  try {
    v = JSON.parse(raw.toString("utf8"));
  } catch {
    return null;
  }
  if (!v || typeof v !== "object" || typeof v.id !== "string" || v.id.length === 0 || v.id.length > 200) return null;
  if (typeof v.type !== "string" || !EVENT_TYPES.has(v.type)) return null;
  const d = v.data;
  if (!d || typeof d !== "object" || typeof d.paymentId !== "string" || d.paymentId.length === 0 || d.paymentId.length > 200) return null;
  if (d.orderId !== undefined && typeof d.orderId !== "string") return null;
  if (d.amountMinor !== undefined && !Number.isSafeInteger(d.amountMinor)) return null;
  if (d.currency !== undefined && typeof d.currency !== "string") return null;
  if (d.failureCode !== undefined && typeof d.failureCode !== "string") return null;
  return { id: v.id, type: v.type, created: Number(v.created) || 0, data: { paymentId: d.paymentId, orderId: d.orderId, amountMinor: d.amountMinor, currency: d.currency, failureCode: d.failureCode } };
}
