import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { signPayload, SIGNATURE_HEADER } from "../../platform/signature.js";
import { CONFIRM, expectLedgerConsistent, ledgerFor, paymentIdOf, recharge, sandbox, tokenFor, uniqueUser, walletOf } from "./support.js";

let stack: Stack;
let webhookUrl: string;
beforeAll(async () => {
  stack = await startStack("webhooks");
  webhookUrl = stack.subgraphs.wallet.url.replace(/\/graphql$/, "/webhooks/payments");
});
afterAll(async () => {
  await stack?.stop();
});

async function postWebhook(body: string, signature: string | undefined): Promise<{ status: number; body: any }> {
  const res = await fetch(webhookUrl, { method: "POST", headers: { "content-type": "application/json", ...(signature ? { [SIGNATURE_HEADER]: signature } : {}) }, body });
  return { status: res.status, body: await res.json() };
}

const secret = () => stack.subgraphs.wallet.services.purchaseConfig.webhookSecret;
const now = () => Math.floor(Date.now() / 1000);

async function pendingOrder(token = "pm_async_ok", packageId = "pkg_US_350") {
  const user = uniqueUser();
  const jwt = await tokenFor(user);
  const { order } = await recharge(stack, jwt, { packageId, token });
  const paymentId = await paymentIdOf(stack, order.id);
  return { user, jwt, order, paymentId };
}

describe("payment webhooks", () => {
  it("the same payment.succeeded event delivered 10 times (also concurrently) credits once", async () => {
    const { user, jwt, order, paymentId } = await pendingOrder();
    const event = sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded");
    const statuses = await Promise.all(Array.from({ length: 10 }, () => sandbox(stack).deliver(event)));
    expect(statuses.every((s) => s === 200)).toBe(true);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
    expect(await ledgerFor(stack, order.id)).toHaveLength(1);
    const [{ n }] = await stack.subgraphs.wallet.dataSource.query(`SELECT count(*)::int AS n FROM wallet.payment_webhook_events WHERE id = $1`, [event.id]);
    expect(n).toBe(1);
    await expectLedgerConsistent(stack, user);
  });

  it("distinct success events for one payment (a provider resending with new ids) still credit once", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    for (let i = 0; i < 5; i++) {
      await sandbox(stack).deliver(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    }
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
  });

  it("a 3-D Secure order whose success webhook arrives before confirmRecharge is credited once, and confirm then returns SUCCEEDED", async () => {
    const { jwt, order, paymentId } = await pendingOrder("pm_card_3ds", "pkg_US_70");
    expect(order.status).toBe("REQUIRES_ACTION");
    // The provider completed 3-D Secure and told us before the client came back.
    await sandbox(stack).confirmPayment(paymentId, "client-side");
    const event = sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 99, currency: "USD" }, "payment.succeeded");
    expect(await sandbox(stack).deliver(event)).toBe(200);
    const confirmed = await stack.gql(CONFIRM, { id: order.id }, jwt);
    expect(confirmed.data.confirmRecharge.order.status).toBe("SUCCEEDED");
    await sandbox(stack).deliver(event);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
    expect(await ledgerFor(stack, order.id)).toHaveLength(1);
  });

  it("confirmRecharge racing 10 success webhooks credits once", async () => {
    const { jwt, order, paymentId } = await pendingOrder("pm_card_3ds", "pkg_US_70");
    await sandbox(stack).confirmPayment(paymentId, "client-side");
    const event = () => sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 99, currency: "USD" }, "payment.succeeded");
    await Promise.all([stack.gql(CONFIRM, { id: order.id }, jwt), ...Array.from({ length: 10 }, () => sandbox(stack).deliver(event()))]);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 70, debt: 0 });
    expect(await ledgerFor(stack, order.id)).toHaveLength(1);
  });

  it("a failure event after success changes nothing (a paid order stays paid)", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    await sandbox(stack).settle(paymentId);
    const late = sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD", failureCode: "async_payment_failed" }, "payment.failed");
    const res = await sandbox(stack).deliver(late);
    expect(res).toBe(200);
    const o = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status } }`, { id: order.id }, jwt);
    expect(o.data.rechargeOrder.status).toBe("SUCCEEDED");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
  });

  it("a success event that arrives after the order FAILED does not credit", async () => {
    const { jwt, order, paymentId } = await pendingOrder("pm_async_fail");
    await sandbox(stack).settle(paymentId);
    await sandbox(stack).deliver(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
  });

  it("an event whose amount does not match the order is recorded but not applied", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    const event = sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 1, currency: "USD" }, "payment.succeeded");
    const res = await postWebhook(JSON.stringify(event), signPayload(secret(), JSON.stringify(event), now()));
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe("amount_mismatch");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
  });

  it("an event for an unknown payment is acknowledged and changes nothing", async () => {
    const event = { id: "evt_unknown_1", type: "payment.succeeded", created: now(), data: { paymentId: "pay_nope", amountMinor: 99, currency: "USD" } };
    const res = await postWebhook(JSON.stringify(event), signPayload(secret(), JSON.stringify(event), now()));
    expect(res.status).toBe(200);
    expect(res.body.outcome).toBe("unknown_payment");
  });
});

describe("webhook signatures", () => {
  async function expectRejected(body: string, signature: string | undefined, jwt: string, orderId: string) {
    const res = await postWebhook(body, signature);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).not.toMatch(/stale|mismatch|expected/i);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
    const o = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status } }`, { id: orderId }, jwt);
    expect(o.data.rechargeOrder.status).toBe("PENDING");
  }

  it("a tampered body (amount changed after signing) is rejected and nothing changes", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    const body = JSON.stringify(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    const signature = signPayload(secret(), body, now());
    await expectRejected(body.replace('"payment.succeeded"', '"payment.succeeded" '), signature, jwt, order.id);
  });

  it("a signature made with another secret is rejected", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    const body = JSON.stringify(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    await expectRejected(body, signPayload("whsec_attacker", body, now()), jwt, order.id);
  });

  it("a correctly signed but stale event (older than the 5-minute window) is rejected: a captured request cannot be replayed", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    const body = JSON.stringify(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    await expectRejected(body, signPayload(secret(), body, now() - 301), jwt, order.id);
    await expectRejected(body, signPayload(secret(), body, now() + 301), jwt, order.id);
  });

  it("a re-stamped timestamp with the old signature is rejected (the timestamp is signed)", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    const body = JSON.stringify(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    const old = signPayload(secret(), body, now() - 1000);
    await expectRejected(body, old.replace(/^t=\d+/, `t=${now()}`), jwt, order.id);
  });

  it("a missing or malformed signature header is rejected", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    const body = JSON.stringify(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    await expectRejected(body, undefined, jwt, order.id);
    await expectRejected(body, "v1=deadbeef", jwt, order.id);
    await expectRejected(body, `t=${now()},v1=${"0".repeat(64)}`, jwt, order.id);
  });

  it("a signature from a rotated-in secret is accepted alongside others (several v1 values)", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    const body = JSON.stringify(sandbox(stack).event({ id: paymentId, orderId: order.id, amountMinor: 499, currency: "USD" }, "payment.succeeded"));
    const t = now();
    const good = signPayload(secret(), body, t).split(",v1=")[1];
    const res = await postWebhook(body, `t=${t},v1=${"a".repeat(64)},v1=${good}`);
    expect(res.status).toBe(200);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
  });

  it("a signed but malformed event is 400 and GET is 405", async () => {
    const body = JSON.stringify({ id: "evt_x", type: "payment.exploded", data: {} });
    expect((await postWebhook(body, signPayload(secret(), body, now()))).status).toBe(400);
    expect((await fetch(webhookUrl)).status).toBe(405);
  });
});

describe("reconciliation", () => {
  it("a 3-D Secure challenge abandoned for over an hour is cancelled at the provider and FAILS, so it no longer counts against limits", async () => {
    const { jwt, order } = await pendingOrder("pm_card_3ds", "pkg_US_700");
    const ds = stack.subgraphs.wallet.dataSource;
    await ds.query(`UPDATE wallet.recharge_orders SET created_at = now() - interval '2 hours', updated_at = now() - interval '2 hours' WHERE id = $1`, [order.id]);
    await stack.subgraphs.wallet.services.recharge.reconcile(0);
    const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status failureCode } }`, { id: order.id }, jwt);
    expect(res.data.rechargeOrder).toEqual({ status: "FAILED", failureCode: "AUTHENTICATION_FAILED" });
    // Finishing the challenge now cannot credit a cancelled order.
    const late = await stack.gql(CONFIRM, { id: order.id }, jwt);
    expect(late.data.confirmRecharge.order.status).toBe("FAILED");
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
  });

  it("a recent 3-D Secure order is left waiting for the viewer", async () => {
    const { jwt, order } = await pendingOrder("pm_card_3ds", "pkg_US_70");
    await stack.subgraphs.wallet.services.recharge.reconcile(0);
    const res = await stack.gql(`query($id: ID!) { rechargeOrder(id: $id) { status } }`, { id: order.id }, jwt);
    expect(res.data.rechargeOrder.status).toBe("REQUIRES_ACTION");
    expect((await stack.gql(CONFIRM, { id: order.id }, jwt)).data.confirmRecharge.order.status).toBe("SUCCEEDED");
  });

  it("a lost webhook is recovered by the reconciler asking the provider", async () => {
    const { jwt, order, paymentId } = await pendingOrder();
    // The provider settles, but its webhook never reaches us.
    const delivered = sandbox(stack).options.webhookUrl;
    sandbox(stack).options.webhookUrl = "http://127.0.0.1:9/unreachable";
    try {
      await sandbox(stack).settle(paymentId);
    } finally {
      sandbox(stack).options.webhookUrl = delivered;
    }
    expect(await walletOf(stack, jwt)).toEqual({ coins: 0, debt: 0 });
    await stack.subgraphs.wallet.services.recharge.reconcile(0);
    expect(await walletOf(stack, jwt)).toEqual({ coins: 350, debt: 0 });
    await stack.subgraphs.wallet.services.recharge.reconcile(0);
    expect(await ledgerFor(stack, order.id)).toHaveLength(1);
  });
});
