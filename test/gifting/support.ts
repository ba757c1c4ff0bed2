import "reflect-metadata";
import { expect } from "vitest";
import type { Stack } from "../support/stack.js";

/** sendGift through the gateway, asking for everything the wallet contributes plus the catalog's gift name. */
export const SEND_GIFT = `mutation Send($input: SendGiftInput!) {
  sendGift(input: $input) {
    giftEvent {
      id sender { id } senderName gift { id name } host { id } quantity unitCost coins comboId sentAt senderBalanceAfter
    }
    userErrors { code message field currentUnitCost balance shortfall }
  }
}`;

export interface SendInput {
  giftId: string;
  hostId: string;
  liveSessionId?: string | null;
  quantity?: number;
  comboId?: string | null;
  expectedUnitCost?: number | null;
  idempotencyKey: string;
}

export async function sendGift(stack: Stack, token: string | undefined, input: SendInput) {
  const res = await stack.gql(SEND_GIFT, { input }, token);
  return { res, payload: res.data?.sendGift as { giftEvent: any; userErrors: any[] } | null | undefined };
}

const RECHARGE = `mutation($input: RechargeInput!) { recharge(input: $input) { order { id status totalCoins } userErrors { code message } } }`;

/**
 * Gives a user coins the way a viewer gets them: a custom-amount recharge paid with the sandbox's
 * `pm_card_ok`, through the gateway. Returns the order (id for refunds; totalCoins credited).
 */
export async function fund(stack: Stack, userId: string, coins: number): Promise<{ id: string; totalCoins: number }> {
  const token = await stack.token({ sub: userId, name: `Viewer ${userId}`, region: "US", adult: true });
  const input = { customCoins: coins, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: key("fund") };
  const res = await stack.gql(RECHARGE, { input }, token);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.recharge.userErrors).toEqual([]);
  expect(res.data.recharge.order).toMatchObject({ status: "SUCCEEDED", totalCoins: coins });
  return res.data.recharge.order;
}

/** An admin refunds a recharge: unspent coins are taken back, the spent part becomes debt. */
export async function refund(stack: Stack, orderId: string): Promise<void> {
  const admin = await stack.token({ sub: "gifting-ops", roles: ["admin"] });
  const res = await stack.gql(`mutation($id: ID!) { refundRecharge(orderId: $id, reason: "test refund") { userErrors { code message } } }`, { id: orderId }, admin);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  expect(res.data.refundRecharge.userErrors).toEqual([]);
}

export async function balanceOf(stack: Stack, userId: string): Promise<{ coins: number; debt: number }> {
  const [row] = await stack.subgraphs.wallet.dataSource.query(`SELECT coins, debt FROM wallet.accounts WHERE user_id = $1`, [userId]);
  return { coins: Number(row?.coins ?? 0), debt: Number(row?.debt ?? 0) };
}

export const viewerToken = (stack: Stack, sub: string, extra: { adult?: boolean; region?: string; roles?: ("viewer" | "host" | "admin")[] } = {}) =>
  stack.token({ sub, name: `Viewer ${sub}`, roles: extra.roles ?? ["viewer"], region: extra.region ?? "US", adult: extra.adult ?? true });

/** A host the way a real one becomes a creator: they go live (earnings' startLiveSession). Returns the live session id. */
export async function goLive(stack: Stack, hostId: string, opts: { adult?: boolean } = {}): Promise<string> {
  const token = await stack.token({ sub: hostId, name: `Host ${hostId}`, roles: ["viewer", "host"], adult: opts.adult ?? true });
  const res = await stack.gql(`mutation($t: String!) { startLiveSession(input: { title: $t }) { liveSession { id } userErrors { code } } }`, { t: `${hostId} live` }, token);
  expect(res.errors).toBeUndefined();
  expect(res.data.startLiveSession.userErrors).toEqual([]);
  return res.data.startLiveSession.liveSession.id as string;
}

export async function endLive(stack: Stack, hostId: string, sessionId: string): Promise<void> {
  const token = await stack.token({ sub: hostId, name: `Host ${hostId}`, roles: ["viewer", "host"] });
  const res = await stack.gql(`mutation($id: ID!) { endLiveSession(input: { id: $id }) { userErrors { code } } }`, { id: sessionId }, token);
  expect(res.errors).toBeUndefined();
  expect(res.data.endLiveSession.userErrors).toEqual([]);
}

export interface CatalogGift {
  id: string;
  slug: string;
  name: string;
  coinCost: number;
  streakable: boolean;
}

/** Every gift the catalog lists (all regions, through the gateway), by slug. */
export async function catalogGifts(stack: Stack): Promise<Map<string, CatalogGift>> {
  const res = await stack.gql(`{ gifts(includeUpcoming: true) { id slug name coinCost streakable } }`);
  expect(res.errors).toBeUndefined();
  return new Map((res.data.gifts as CatalogGift[]).map((g) => [g.slug, g]));
}

/** What sendGift leaves behind, counted straight from the tables (wallet and the event log). */
export async function trace(stack: Stack) {
  const q = (sql: string) => stack.subgraphs.wallet.dataSource.query(sql).then((r: any[]) => r[0]);
  const [events, giftEvents, ledger, keys] = await Promise.all([
    q(`SELECT count(*)::int AS n FROM eventlog.events WHERE type = 'gift.sent'`),
    q(`SELECT count(*)::int AS n, coalesce(sum(coins), 0)::bigint AS coins FROM wallet.gift_events`),
    q(`SELECT count(*)::int AS n, coalesce(sum(amount), 0)::bigint AS amount FROM wallet.ledger_entries WHERE type = 'GIFT_SENT'`),
    q(`SELECT count(*)::int AS n FROM wallet.idempotency_keys WHERE operation = 'sendGift'`),
  ]);
  return { giftSentEvents: events.n, giftEvents: giftEvents.n, coinsInGiftEvents: Number(giftEvents.coins), giftLedgerEntries: ledger.n, giftLedgerAmount: Number(ledger.amount), sendGiftKeys: keys.n };
}

let counter = 0;
/** A fresh idempotency key. */
export const key = (label = "k") => `${label}-${process.pid}-${++counter}-${Math.random().toString(36).slice(2, 8)}`;

export { eventually } from "../support/eventually.js";

/** A creator's spendable diamonds, read as an admin through the gateway (earnings owns them). */
export async function diamondsOf(stack: Stack, hostId: string): Promise<number> {
  const admin = await stack.token({ sub: "gifting-ops", roles: ["admin"] });
  const res = await stack.gql(`query($id: ID!) { creator(id: $id) { diamonds } }`, { id: hostId }, admin);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.creator.diamonds as number;
}

/**
 * A host's diamonds at the default 50% revenue share for all the coins they received:
 * floor(Σ coins × 50%), the remainder carried from gift to gift (docs/earnings.md, "The carry").
 */
export const diamondsAtDefaultShare = (coins: number) => Math.floor(coins / 2);
