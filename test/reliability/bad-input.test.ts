import { serviceHeaders } from "../support/http.js";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT } from "jose";
import { mintToken } from "../../platform/auth.js";
import { loadConfig } from "../../platform/config.js";
import { SERVICE_HEADER, ServiceSigner } from "../../platform/service-auth.js";
import { signPayload } from "../../platform/signature.js";
import type { GraphQLResponse, Stack } from "../support/stack.js";
import { subscribe } from "../stream/helpers.js";
import { pollUntil } from "../support/eventually.js";
import { connectRaw, openRaw, subscribeRaw } from "../support/raw-ws.js";
import { fingerprint, recordFigures, settleEarnings, startReliabilityStack, tokenFor } from "./support.js";

/**
 * Hostile and broken input, table-driven: every case names the typed error it must get
 * (a GraphQL error code, a userError code, or the webhook's HTTP refusal) and proves that
 * nothing changed — a fingerprint of every money table of every subgraph is equal before and
 * after. No case may answer 5xx or leak a stack trace.
 */

let stack: Stack;
const T: Record<string, string> = {};
const S = { giftId: "", giftCost: 0, aliceOrder: "", alice3ds: "", hankSession: "", bobSession: "", hankPayout: "", aliceGiftKey: "", hankPayoutKey: "" };
const ZERO_UUID = "00000000-0000-4000-8000-000000000000";

type Outcome = { code: string; status: number; body: string };

const SEND = `mutation($input: SendGiftInput!) { sendGift(input: $input) { giftEvent { id } userErrors { code field } } }`;
const RECHARGE = `mutation($input: RechargeInput!) { recharge(input: $input) { order { id status } userErrors { code field } } }`;
const GOAL = `mutation($input: CreateLiveGoalInput!) { createLiveGoal(input: $input) { goal { id } userErrors { code field } } }`;
const PAYOUT = `mutation($input: RequestPayoutInput!) { requestPayout(input: $input) { payout { id } userErrors { code field } } }`;

/** The first GraphQL error's code, else the first userErrors code anywhere in data, else "OK". */
function codeOf(res: { status: number; data?: any; errors?: any[] }): string {
  if (res.errors?.length) return String(res.errors[0].extensions?.code ?? "NO_CODE");
  const find = (v: any): string | null => {
    if (!v || typeof v !== "object") return null;
    if (Array.isArray(v.userErrors) && v.userErrors.length) return v.userErrors[0].code;
    for (const x of Object.values(v)) {
      const c = find(x);
      if (c) return c;
    }
    return null;
  };
  return find(res.data) ?? "OK";
}

async function gql(query: string, variables: Record<string, unknown> = {}, token?: string, headers: Record<string, string> = {}, url = stack.gateway.url): Promise<Outcome> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.text();
  let parsed: GraphQLResponse;
  try {
    parsed = { status: res.status, ...JSON.parse(body) };
  } catch {
    return { code: `HTTP_${res.status}`, status: res.status, body };
  }
  return { code: codeOf(parsed), status: res.status, body };
}

/** Straight to a subgraph, bypassing the gateway (service credential only when given in headers). */
async function direct(subgraph: "wallet" | "catalog" | "earnings", query: string, variables: Record<string, unknown> = {}, token?: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await fetch(stack.subgraphs[subgraph].url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.text();
  try {
    return { code: codeOf({ status: res.status, ...JSON.parse(body) }), status: res.status, body };
  } catch {
    return { code: `HTTP_${res.status}`, status: res.status, body };
  }
}
const serviceHeader = (value: string) => ({ [SERVICE_HEADER]: value });

async function raw(body: string, headers: Record<string, string> = {}): Promise<Outcome> {
  const res = await fetch(stack.gateway.url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await res.text();
  let code = `HTTP_${res.status}`;
  try {
    code = codeOf({ status: res.status, ...JSON.parse(text) });
  } catch {
    // not JSON
  }
  return { code, status: res.status, body: text };
}

/** Straight to one subgraph as the gateway would call it (signed): what a caller allowed in still meets. */
const signed = async (subgraph: "wallet" | "catalog" | "earnings", query: string, variables: Record<string, unknown> = {}, token?: string) =>
  direct(subgraph, query, variables, token, await serviceHeaders(subgraph));
const ENTITIES = `query($r: [_Any!]!) { _entities(representations: $r) { __typename } }`;
const PRICE_AT = `query($id: ID!, $at: DateTimeISO!) { gift(id: $id) { priceAt(at: $at) { coinCost } } }`;
const priceAtLiteral = (at: string) => `{ gift(id: "${S.giftId}") { priceAt(at: ${at}) { coinCost } } }`;
const SCHEDULE = `mutation($i: ScheduleGiftPriceInput!) { scheduleGiftPrice(input: $i) { scheduledPrice { validFrom } userErrors { code } } }`;

const webhookUrl = () => stack.subgraphs.wallet.url.replace(/\/graphql$/, "/webhooks/payments");
async function webhook(body: string, signature: string | null): Promise<Outcome> {
  const res = await fetch(webhookUrl(), {
    method: "POST",
    headers: { "content-type": "application/json", ...(signature ? { "payment-signature": signature } : {}) },
    body,
  });
  const text = await res.text();
  const parsed = JSON.parse(text);
  return { code: `HTTP_${res.status}:${parsed.error ?? parsed.outcome}`, status: res.status, body: text };
}

/** A subscription attempt: the first error code, or the close code, or "OK" when events flow / nothing is refused. */
async function stream(query: string, variables: Record<string, unknown>, token: string | null): Promise<Outcome> {
  const sub = subscribe(stack.gateway.url, token, query, variables);
  // Every case here expects a refusal: wait for the stream to answer one (or for 10 s of nothing, "OK").
  await pollUntil(() => sub.errors.length > 0 || sub.closed !== null || sub.completed, (answered) => answered, 10_000);
  await sub.dispose().catch(() => undefined);
  if (sub.errors.length) return { code: String(sub.errors[0].extensions?.code ?? sub.errors[0].message), status: 0, body: JSON.stringify(sub.errors) };
  if (sub.closed) return { code: `CLOSE_${sub.closed.code}`, status: 0, body: sub.closed.reason };
  return { code: "OK", status: 0, body: "" };
}

/** A bare WebSocket exchange: `act` returns the outcome's code (a close code as CLOSE_<n>, or the first error's code). */
async function rawWs(act: () => Promise<string>): Promise<Outcome> {
  const code = await act();
  return { code, status: 0, body: code };
}
const closeCode = (c: { code: number }) => `CLOSE_${c.code}`;
const wsAuth = () => ({ authorization: `Bearer ${T.hank}` });
const HANK_STREAM = `subscription { giftReceived(hostId: "rel-hank") { id } }`;

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
const sendInput = (over: Record<string, unknown> = {}) => ({ giftId: S.giftId, hostId: "rel-hank", quantity: 1, expectedUnitCost: S.giftCost, idempotencyKey: `bad-${randomUUID()}`, ...over });
const rechargeInput = (over: Record<string, unknown> = {}) => ({ customCoins: 100, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: `bad-${randomUUID()}`, ...over });
const payoutInput = (over: Record<string, unknown> = {}) => ({ diamonds: 10_000, idempotencyKey: `bad-${randomUUID()}`, ...over });

interface Case {
  name: string;
  /** The typed error this input must get. */
  code: string | RegExp;
  run: () => Promise<Outcome>;
}

const cases: Case[] = [
  // ---- numbers: negative, zero, fractional, huge, wrong types
  { name: "sendGift quantity −1", code: "INVALID_INPUT", run: () => gql(SEND, { input: sendInput({ quantity: -1 }) }, T.alice) },
  { name: "sendGift quantity 0", code: "INVALID_INPUT", run: () => gql(SEND, { input: sendInput({ quantity: 0 }) }, T.alice) },
  { name: "sendGift quantity 1.5 (fractional)", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ quantity: 1.5 }) }, T.alice) },
  { name: "sendGift quantity 2^31 (beyond Int)", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ quantity: 2 ** 31 }) }, T.alice) },
  { name: "sendGift quantity 100 (above the per-send maximum)", code: "INVALID_INPUT", run: () => gql(SEND, { input: sendInput({ quantity: 100 }) }, T.alice) },
  { name: "sendGift quantity as a string", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ quantity: "3" }) }, T.alice) },
  { name: "sendGift quantity as an object", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ quantity: { $gt: 0 } }) }, T.alice) },
  { name: "sendGift expectedUnitCost −5", code: "INVALID_INPUT", run: () => gql(SEND, { input: sendInput({ expectedUnitCost: -5 }) }, T.alice) },
  { name: "sendGift expectedUnitCost 0", code: "INVALID_INPUT", run: () => gql(SEND, { input: sendInput({ expectedUnitCost: 0 }) }, T.alice) },
  { name: "sendGift expectedUnitCost NaN-like string", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ expectedUnitCost: "NaN" }) }, T.alice) },
  { name: "sendGift stale expectedUnitCost", code: "PRICE_CHANGED", run: () => gql(SEND, { input: sendInput({ expectedUnitCost: S.giftCost + 1 }) }, T.alice) },
  { name: "sendGift costing more than the balance", code: "INSUFFICIENT_COINS", run: () => gql(SEND, { input: sendInput({ quantity: 99 }) }, T.poor) },
  { name: "sendGift message of 151 characters", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ message: "m".repeat(151) }) }, T.alice) },
  { name: "sendGift message with a control character", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ message: "a\u0000b" }) }, T.alice) },
  { name: "sendGift message on the moderation list (leetspeak)", code: "MESSAGE_REJECTED", run: () => gql(SEND, { input: sendInput({ message: "B4DW0RD" }) }, T.alice) },
  { name: "sendGift anonymous as a string", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ anonymous: "yes" }) }, T.alice) },
  { name: "sendGift videoId of 129 characters", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ videoId: "v".repeat(129) }) }, T.alice) },
  { name: "sendGift videoId together with liveSessionId", code: "INVALID_INPUT", run: () => gql(SEND, { input: sendInput({ videoId: "video-1", liveSessionId: S.hankSession }) }, T.alice) },
  { name: "createLiveGoal targetCoins 0", code: "INVALID_INPUT", run: () => gql(GOAL, { input: { liveSessionId: S.hankSession, title: "t", targetCoins: 0 } }, T.hank) },
  { name: "createLiveGoal targetCoins 2^31", code: "BAD_USER_INPUT", run: () => gql(GOAL, { input: { liveSessionId: S.hankSession, title: "t", targetCoins: 2 ** 31 } }, T.hank) },
  { name: "createLiveGoal title of 101 characters", code: "BAD_USER_INPUT", run: () => gql(GOAL, { input: { liveSessionId: S.hankSession, title: "t".repeat(101), targetCoins: 10 } }, T.hank) },
  { name: "createLiveGoal endsAt in the past", code: "INVALID_INPUT", run: () => gql(GOAL, { input: { liveSessionId: S.hankSession, title: "t", targetCoins: 10, endsAt: "2020-01-01T00:00:00Z" } }, T.hank) },
  { name: "createLiveGoal in someone else's session", code: "NOT_FOUND", run: () => gql(GOAL, { input: { liveSessionId: S.bobSession, title: "t", targetCoins: 10 } }, T.hank) },
  { name: "topGifters at 1999", code: "BAD_USER_INPUT", run: () => gql(`{ creator(id: "rel-hank") { topGifters(period: WEEK, at: "1999-01-01T00:00:00Z") { rank } } }`, {}, T.alice) },
  { name: "gifterRank of an empty user id", code: "BAD_USER_INPUT", run: () => gql(`{ creator(id: "rel-hank") { gifterRank(userId: "") } }`, {}, T.alice) },
  { name: "creatorRankings for LIVE_SESSION", code: "BAD_USER_INPUT", run: () => gql(`{ creatorRankings(period: LIVE_SESSION) { rank } }`, {}, T.alice) },
  { name: "creatorRankings region 'usa'", code: "BAD_USER_INPUT", run: () => gql(`{ creatorRankings(region: "usa") { rank } }`, {}, T.alice) },
  { name: "recharge customCoins −100", code: "INVALID_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ customCoins: -100 }) }, T.alice) },
  { name: "recharge customCoins 0", code: "INVALID_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ customCoins: 0 }) }, T.alice) },
  { name: "recharge customCoins 10.5", code: "BAD_USER_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ customCoins: 10.5 }) }, T.alice) },
  { name: "recharge customCoins above the maximum", code: "INVALID_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ customCoins: 2_500_001 }) }, T.alice) },
  { name: "recharge customCoins 1e11 (beyond Int)", code: "BAD_USER_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ customCoins: 1e11 }) }, T.alice) },
  { name: "recharge with both packageId and customCoins", code: "BAD_USER_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ packageId: "pkg_US_70" }) }, T.alice) },
  { name: "recharge with neither packageId nor customCoins", code: "BAD_USER_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ customCoins: null }) }, T.alice) },
  { name: "recharge payment method type not in the enum", code: "BAD_USER_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ paymentMethod: { type: "BITCOIN", token: "pm_card_ok" } }) }, T.alice) },
  { name: "recharge with a 10,000-character payment token", code: "BAD_USER_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ paymentMethod: { type: "CARD", token: "x".repeat(10_000) } }) }, T.alice) },
  { name: "recharge with a payment method not offered in the region", code: "PAYMENT_METHOD_NOT_AVAILABLE", run: () => gql(RECHARGE, { input: rechargeInput({ paymentMethod: { type: "SEPA_DEBIT", token: "pm_card_ok" } }) }, T.alice) },
  { name: "recharge in an unknown region", code: "UNKNOWN_REGION", run: () => gql(RECHARGE, { input: rechargeInput({ region: "XX" }) }, T.alice) },
  { name: "recharge at another region's prices", code: "INVALID_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ region: "GB" }) }, T.alice) },
  { name: "recharge a package that does not exist", code: "NOT_FOUND", run: () => gql(RECHARGE, { input: rechargeInput({ customCoins: null, packageId: "pkg_US_71" }) }, T.alice) },
  { name: "requestPayout diamonds −10,000", code: "BAD_USER_INPUT", run: () => gql(PAYOUT, { input: payoutInput({ diamonds: -10_000 }) }, T.hank) },
  { name: "requestPayout diamonds 0", code: "BAD_USER_INPUT", run: () => gql(PAYOUT, { input: payoutInput({ diamonds: 0 }) }, T.hank) },
  { name: "requestPayout diamonds 10,000.5", code: "BAD_USER_INPUT", run: () => gql(PAYOUT, { input: payoutInput({ diamonds: 10_000.5 }) }, T.hank) },
  { name: "requestPayout diamonds 2^31", code: "BAD_USER_INPUT", run: () => gql(PAYOUT, { input: payoutInput({ diamonds: 2 ** 31 }) }, T.hank) },
  { name: "requestPayout below the minimum", code: "BELOW_MINIMUM", run: () => gql(PAYOUT, { input: payoutInput({ diamonds: 9_998 }) }, T.hank) },
  { name: "requestPayout of an odd number (not whole cents)", code: "INVALID_INPUT", run: () => gql(PAYOUT, { input: payoutInput({ diamonds: 10_001 }) }, T.hank) },
  { name: "requestPayout above the balance", code: "INSUFFICIENT_DIAMONDS", run: () => gql(PAYOUT, { input: payoutInput({ diamonds: 1_000_000 }) }, T.hank) },
  { name: "createGift with coinCost −1 (admin)", code: "INVALID_INPUT", run: () => gql(`mutation($i: CreateGiftInput!) { createGift(input: $i) { gift { id } userErrors { code } } }`, { i: { slug: "bad-gift", name: "Bad", coinCost: -1, category: "BASIC", imageUrl: "bad.png" } }, T.admin) },
  { name: "setRevenueShare above 100% (admin)", code: "BAD_USER_INPUT", run: () => gql(`mutation($i: SetRevenueShareInput!) { setRevenueShare(input: $i) { userErrors { code } } }`, { i: { creatorId: "rel-hank", shareBps: 20_000, reason: "x" } }, T.admin) },
  { name: "transactions(first: 0)", code: "BAD_USER_INPUT", run: () => gql(`{ me { wallet { transactions(first: 0) { pageInfo { hasNextPage } } } } }`, {}, T.alice) },
  { name: "transactions(first: 100000)", code: "BAD_USER_INPUT", run: () => gql(`{ me { wallet { transactions(first: 100000) { pageInfo { hasNextPage } } } } }`, {}, T.alice) },
  { name: "topGifters(first: 1000)", code: "BAD_USER_INPUT", run: () => gql(`{ creator(id: "rel-hank") { topGifters(first: 1000) { rank } } }`, {}, T.alice) },

  // ---- unknown and malformed ids and cursors
  { name: "sendGift giftId null", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ giftId: null }) }, T.alice) },
  { name: "sendGift giftId not a uuid", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ giftId: "'; DROP TABLE wallet.accounts; --" }) }, T.alice) },
  { name: "sendGift unknown giftId", code: "GIFT_NOT_AVAILABLE", run: () => gql(SEND, { input: sendInput({ giftId: ZERO_UUID }) }, T.alice) },
  { name: "sendGift to an unknown host", code: "HOST_NOT_FOUND", run: () => gql(SEND, { input: sendInput({ hostId: "nobody-at-all" }) }, T.alice) },
  { name: "sendGift hostId of 1,000 characters", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ hostId: "h".repeat(1000) }) }, T.alice) },
  { name: "sendGift to yourself", code: "CANNOT_GIFT_SELF", run: () => gql(SEND, { input: sendInput({ hostId: "rel-alice" }) }, T.alice) },
  { name: "sendGift with another host's live session", code: "SESSION_NOT_LIVE", run: () => gql(SEND, { input: sendInput({ liveSessionId: S.bobSession }) }, T.alice) },
  // Session ids are the earnings subgraph's, opaque to the wallet: an id it cannot find is "not live".
  { name: "sendGift with a malformed liveSessionId", code: "SESSION_NOT_LIVE", run: () => gql(SEND, { input: sendInput({ liveSessionId: "not-a-session" }) }, T.alice) },
  { name: "sendGift with an unknown input field", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: { ...sendInput(), senderId: "rel-bob" } }, T.alice) },
  { name: "confirmRecharge with a malformed order id", code: "BAD_USER_INPUT", run: () => gql(`mutation { confirmRecharge(orderId: "nope") { userErrors { code } } }`, {}, T.alice) },
  { name: "confirmRecharge with an unknown order id", code: "NOT_FOUND", run: () => gql(`mutation($id: ID!) { confirmRecharge(orderId: $id) { userErrors { code } } }`, { id: ZERO_UUID }, T.alice) },
  { name: "rechargeOrder with a malformed id", code: "BAD_USER_INPUT", run: () => gql(`{ rechargeOrder(id: "../../etc/passwd") { id } }`, {}, T.alice) },
  { name: "wallet transactions after a forged cursor", code: "BAD_USER_INPUT", run: () => gql(`{ me { wallet { transactions(first: 5, after: "eyJpZCI6LTF9") { pageInfo { hasNextPage } } } } }`, {}, T.alice) },
  { name: "payouts after a malformed cursor", code: "BAD_USER_INPUT", run: () => gql(`{ creator(id: "rel-hank") { payouts(after: "garbage!!") { nodes { id } } } }`, {}, T.hank) },
  { name: "liveSessions after a malformed cursor", code: "BAD_USER_INPUT", run: () => gql(`{ creator(id: "rel-hank") { liveSessions(after: "%%%") { nodes { id } } } }`, {}, T.hank) },
  { name: "cancelPayout with a malformed id", code: "BAD_USER_INPUT", run: () => gql(`mutation { cancelPayout(input: { id: "x" }) { userErrors { code } } }`, {}, T.hank) },
  { name: "cancelPayout with an unknown id", code: "NOT_FOUND", run: () => gql(`mutation($id: ID!) { cancelPayout(input: { id: $id }) { userErrors { code } } }`, { id: ZERO_UUID }, T.hank) },
  { name: "endLiveSession with a malformed id", code: "BAD_USER_INPUT", run: () => gql(`mutation { endLiveSession(input: { id: "x" }) { userErrors { code } } }`, {}, T.hank) },
  { name: "giftReceived resuming from a forged cursor", code: "BAD_USER_INPUT", run: () => stream(`subscription { giftReceived(hostId: "rel-hank", after: "forged-cursor") { id } }`, {}, T.hank) },
  { name: "liveGiftFeed for a malformed session id", code: "BAD_USER_INPUT", run: () => stream(`subscription { liveGiftFeed(liveSessionId: "x") { id } }`, {}, T.alice) },

  // ---- idempotency keys
  { name: "sendGift key reused with a different quantity", code: "IDEMPOTENCY_KEY_REUSED", run: () => gql(SEND, { input: sendInput({ idempotencyKey: S.aliceGiftKey, quantity: 2, giftId: S.giftId }) }, T.alice) },
  { name: "sendGift key of 129 characters", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ idempotencyKey: "k".repeat(129) }) }, T.alice) },
  { name: "sendGift empty key", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ idempotencyKey: "" }) }, T.alice) },
  { name: "sendGift key with spaces and control characters", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: sendInput({ idempotencyKey: "a b\u0000c" }) }, T.alice) },
  { name: "sendGift without a key", code: "BAD_USER_INPUT", run: () => gql(SEND, { input: { ...sendInput(), idempotencyKey: undefined } }, T.alice) },
  { name: "recharge key of 10,000 characters", code: "BAD_USER_INPUT", run: () => gql(RECHARGE, { input: rechargeInput({ idempotencyKey: "k".repeat(10_000) }) }, T.alice) },
  { name: "recharge key reused with a different amount", code: "IDEMPOTENCY_KEY_REUSED", run: () => gql(RECHARGE, { input: rechargeInput({ idempotencyKey: "alice-first-recharge", customCoins: 31 }) }, T.alice) },
  { name: "requestPayout key reused with a different amount", code: "IDEMPOTENCY_KEY_REUSED", run: () => gql(PAYOUT, { input: payoutInput({ idempotencyKey: S.hankPayoutKey, diamonds: 10_002 }) }, T.hank) },
  { name: "requestPayout key of 129 characters", code: "BAD_USER_INPUT", run: () => gql(PAYOUT, { input: payoutInput({ idempotencyKey: "k".repeat(129) }) }, T.hank) },

  { name: "a sendGift with the key of an earlier recharge", code: "IDEMPOTENCY_KEY_REUSED", run: () => gql(SEND, { input: sendInput({ idempotencyKey: "alice-first-recharge" }) }, T.alice) },
  { name: "a recharge with the key of an earlier sendGift", code: "IDEMPOTENCY_KEY_REUSED", run: () => gql(RECHARGE, { input: rechargeInput({ idempotencyKey: S.aliceGiftKey }) }, T.alice) },

  // ---- malformed instants: the catalog's validation error reaches the client typed, never masked
  { name: "priceAt(at: \"yesterday\") as a literal", code: "GRAPHQL_VALIDATION_FAILED", run: () => gql(priceAtLiteral(`"yesterday"`)) },
  { name: "priceAt(at: $at) with $at = \"yesterday\"", code: "BAD_USER_INPUT", run: () => gql(PRICE_AT, { id: S.giftId, at: "yesterday" }) },
  { name: "priceAt(at: \"2026-12-01\") as a literal (a date, not an instant)", code: "GRAPHQL_VALIDATION_FAILED", run: () => gql(priceAtLiteral(`"2026-12-01"`)) },
  { name: "priceAt(at: $at) with $at = \"2026-12-01\"", code: "BAD_USER_INPUT", run: () => gql(PRICE_AT, { id: S.giftId, at: "2026-12-01" }) },
  { name: "priceAt(at: 1764547200) as a literal (an epoch number)", code: "GRAPHQL_VALIDATION_FAILED", run: () => gql(priceAtLiteral("1764547200")) },
  { name: "priceAt(at: $at) with $at = 1764547200 (an epoch number)", code: "BAD_USER_INPUT", run: () => gql(PRICE_AT, { id: S.giftId, at: 1764547200 }) },
  { name: "scheduleGiftPrice effectiveAt \"tomorrow\" (admin, variable)", code: "BAD_USER_INPUT", run: () => gql(SCHEDULE, { i: { giftId: S.giftId, coinCost: 7, effectiveAt: "tomorrow" } }, T.admin) },
  { name: "scheduleGiftPrice effectiveAt \"tomorrow\" (admin, literal)", code: "GRAPHQL_VALIDATION_FAILED", run: () => gql(`mutation { scheduleGiftPrice(input: { giftId: "${S.giftId}", coinCost: 7, effectiveAt: "tomorrow" }) { userErrors { code } } }`, {}, T.admin) },

  // ---- _entities called directly with representations that are not entities
  { name: "wallet _entities with an unknown typename", code: "BAD_USER_INPUT", run: () => signed("wallet", ENTITIES, { r: [{ __typename: "Nope", id: "x" }] }) },
  { name: "wallet _entities with a type that is not an entity (WalletTransaction)", code: "BAD_USER_INPUT", run: () => signed("wallet", ENTITIES, { r: [{ __typename: "WalletTransaction", id: "x" }] }) },
  { name: "catalog _entities with a type that is not an entity (GiftPrice)", code: "BAD_USER_INPUT", run: () => signed("catalog", ENTITIES, { r: [{ __typename: "GiftPrice", id: "x" }] }) },
  { name: "earnings _entities without a __typename", code: "BAD_USER_INPUT", run: () => signed("earnings", ENTITIES, { r: [{ id: "rel-hank" }] }) },

  // ---- the subgraphs' durable per-user guard (rel-spent's and rel-bob's buckets are empty, see beforeAll)
  { name: "sendGift straight to the wallet past the user's durable limit", code: "RATE_LIMITED", run: () => signed("wallet", SEND, { input: sendInput() }, T.spent) },
  { name: "sendGift through the gateway past the user's durable limit", code: "RATE_LIMITED", run: () => gql(SEND, { input: sendInput() }, T.spent) },
  { name: "recharge straight to the wallet past the user's durable limit", code: "RATE_LIMITED", run: () => signed("wallet", RECHARGE, { input: rechargeInput() }, T.spent) },
  { name: "requestPayout straight to earnings past the host's durable limit", code: "RATE_LIMITED", run: () => signed("earnings", PAYOUT, { input: payoutInput() }, T.bob) },

  // ---- JWTs: missing, expired, forged, alg none, wrong audience/issuer, tampered
  { name: "sendGift without a token", code: "UNAUTHENTICATED", run: () => gql(SEND, { input: sendInput() }) },
  { name: "me without a token", code: "UNAUTHENTICATED", run: () => gql(`{ me { id wallet { coins } } }`) },
  { name: "sendGift with an expired token", code: "UNAUTHENTICATED", run: () => gql(SEND, { input: sendInput() }, T.expired) },
  { name: "recharge with a token signed by another key", code: "UNAUTHENTICATED", run: () => gql(RECHARGE, { input: rechargeInput() }, T.forged) },
  { name: "me with an alg:none token", code: "UNAUTHENTICATED", run: () => gql(`{ me { wallet { coins } } }`, {}, T.algNone) },
  { name: "me with a token for another audience", code: "UNAUTHENTICATED", run: () => gql(`{ me { wallet { coins } } }`, {}, T.wrongAudience) },
  { name: "me with a token from another issuer", code: "UNAUTHENTICATED", run: () => gql(`{ me { wallet { coins } } }`, {}, T.wrongIssuer) },
  { name: "sendGift with a tampered payload (sub swapped, old signature)", code: "UNAUTHENTICATED", run: () => gql(SEND, { input: sendInput() }, T.tampered) },
  { name: "authorization header that is not Bearer", code: "UNAUTHENTICATED", run: () => gql(`{ me { id } }`, {}, undefined, { authorization: "Basic YWxpY2U6cGFzcw==" }) },
  { name: "authorization header with garbage for a token", code: "UNAUTHENTICATED", run: () => gql(`{ me { id } }`, {}, "not.a.jwt") },
  { name: "requestPayout with an expired token", code: "UNAUTHENTICATED", run: () => gql(PAYOUT, { input: payoutInput() }, T.expiredHost) },
  // graphql-ws closes the socket with 4401 (Unauthorized) when connection_init carries no valid token.
  { name: "giftReceived without a token", code: "UNAUTHENTICATED", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { id } }`, {}, null) },
  { name: "giftReceived with an expired token", code: "CLOSE_4401", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { id } }`, {}, T.expiredHost) },
  { name: "giftReceived with an alg:none token", code: "CLOSE_4401", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { id } }`, {}, T.algNone) },
  // Tokens must expire, within JWT_MAX_LIFETIME_SECONDS (a day).
  { name: "sendGift with a token without exp", code: "UNAUTHENTICATED", run: () => gql(SEND, { input: sendInput() }, T.noExp) },
  { name: "recharge with a 30-day token", code: "UNAUTHENTICATED", run: () => gql(RECHARGE, { input: rechargeInput() }, T.month) },
  { name: "giftReceived with a token without exp", code: "CLOSE_4401", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { id } }`, {}, T.noExpHost) },
  { name: "giftReceived with a 30-day token", code: "CLOSE_4401", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { id } }`, {}, T.monthHost) },

  // ---- straight to a subgraph: only signed callers (the gateway, owner-read clients) get answers
  { name: "sendGift straight to the wallet with a valid user token but no service credential", code: "UNAUTHENTICATED", run: () => direct("wallet", SEND, { input: sendInput() }, T.alice) },
  { name: "recharge straight to the wallet with a forged service credential", code: "UNAUTHENTICATED", run: () => direct("wallet", RECHARGE, { input: rechargeInput() }, T.alice, serviceHeader(T.forgedService)) },
  { name: "sendGift straight to the wallet with the catalog's service credential", code: "UNAUTHENTICATED", run: () => direct("wallet", SEND, { input: sendInput() }, T.alice, serviceHeader(T.catalogService)) },
  { name: "requestPayout straight to earnings with a user token as the service credential", code: "UNAUTHENTICATED", run: () => direct("earnings", PAYOUT, { input: payoutInput() }, T.hank, serviceHeader(`Bearer ${T.hank}`)) },
  { name: "hostForGifting straight to earnings, anonymous", code: "UNAUTHENTICATED", run: () => direct("earnings", `{ hostForGifting(hostId: "rel-hank") { id canReceive } }`) },
  { name: "liveSessionForGifting straight to earnings, anonymous", code: "UNAUTHENTICATED", run: () => direct("earnings", `query($id: ID!) { liveSessionForGifting(id: $id) { hostId live } }`, { id: S.hankSession }) },
  { name: "giftsForSending straight to the catalog, anonymous", code: "UNAUTHENTICATED", run: () => direct("catalog", `query($ids: [ID!]!) { giftsForSending(ids: $ids, region: "US") { coinCost } }`, { ids: [S.giftId] }) },
  { name: "_entities GiftEvent straight to the wallet, anonymous", code: "UNAUTHENTICATED", run: () => direct("wallet", `query($r: [_Any!]!) { _entities(representations: $r) { ... on GiftEvent { sender { id } coins } } }`, { r: [{ __typename: "GiftEvent", id: ZERO_UUID }] }) },
  { name: "_service sdl straight to the catalog, anonymous", code: "UNAUTHENTICATED", run: () => direct("catalog", `{ _service { sdl } }`) },

  // ---- someone else's things (IDOR) and roles
  { name: "someone else's wallet through the User entity", code: "FORBIDDEN", run: () => gql(`{ creator(id: "rel-hank") { user { wallet { coins } } } }`, {}, T.mallory) },
  { name: "someone else's recharge order", code: "FORBIDDEN", run: () => gql(`query($id: ID!) { rechargeOrder(id: $id) { id coins } }`, { id: S.aliceOrder }, T.mallory) },
  { name: "confirming someone else's 3-D Secure order", code: "NOT_FOUND", run: () => gql(`mutation($id: ID!) { confirmRecharge(orderId: $id) { order { id } userErrors { code } } }`, { id: S.alice3ds }, T.mallory) },
  { name: "someone else's diamonds", code: "FORBIDDEN", run: () => gql(`{ creator(id: "rel-hank") { diamonds } }`, {}, T.mallory) },
  { name: "someone else's payouts", code: "FORBIDDEN", run: () => gql(`{ creator(id: "rel-hank") { payouts { nodes { id } } } }`, {}, T.bob) },
  { name: "someone else's revenue share", code: "FORBIDDEN", run: () => gql(`{ creator(id: "rel-hank") { revenueShareBps } }`, {}, T.bob) },
  { name: "cancelling someone else's payout", code: "NOT_FOUND", run: () => gql(`mutation($id: ID!) { cancelPayout(input: { id: $id }) { userErrors { code } } }`, { id: S.hankPayout }, T.bob) },
  { name: "ending someone else's live session", code: "NOT_FOUND", run: () => gql(`mutation($id: ID!) { endLiveSession(input: { id: $id }) { userErrors { code } } }`, { id: S.hankSession }, T.bob) },
  { name: "someone else's private gift stream", code: "FORBIDDEN", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { id diamonds } }`, {}, T.mallory) },
  { name: "someone else's private gift stream by live session", code: "FORBIDDEN", run: () => stream(`subscription($s: ID!) { giftReceived(liveSessionId: $s) { id diamonds } }`, { s: S.hankSession }, T.bob) },
  { name: "a viewer requesting a payout", code: "FORBIDDEN", run: () => gql(PAYOUT, { input: payoutInput() }, T.alice) },
  { name: "a viewer starting a live session", code: "FORBIDDEN", run: () => gql(`mutation { startLiveSession(input: { title: "x" }) { userErrors { code } } }`, {}, T.alice) },
  { name: "a viewer refunding a recharge", code: "FORBIDDEN", run: () => gql(`mutation($id: ID!) { refundRecharge(orderId: $id, reason: "free money") { userErrors { code } } }`, { id: S.aliceOrder }, T.mallory) },
  { name: "the buyer refunding their own recharge", code: "FORBIDDEN", run: () => gql(`mutation($id: ID!) { refundRecharge(orderId: $id, reason: "free money") { userErrors { code } } }`, { id: S.aliceOrder }, T.alice) },
  { name: "a host processing payouts", code: "FORBIDDEN", run: () => gql(`mutation { processPayouts { payouts { id } } }`, {}, T.hank) },
  { name: "a host setting their own revenue share", code: "FORBIDDEN", run: () => gql(`mutation { setRevenueShare(input: { creatorId: "rel-hank", shareBps: 10000, reason: "me" }) { userErrors { code } } }`, {}, T.hank) },
  { name: "a viewer creating a gift", code: "FORBIDDEN", run: () => gql(`mutation { createGift(input: { slug: "free", name: "Free", coinCost: 1, category: "BASIC", imageUrl: "f.png" }) { userErrors { code } } }`, {}, T.alice) },
  { name: "a viewer changing a gift's price", code: "FORBIDDEN", run: () => gql(`mutation($id: ID!) { updateGift(input: { id: $id, coinCost: 1 }) { userErrors { code } } }`, { id: S.giftId }, T.alice) },
  { name: "a viewer retiring a gift", code: "FORBIDDEN", run: () => gql(`mutation($id: ID!) { retireGift(id: $id) { userErrors { code } } }`, { id: S.giftId }, T.mallory) },
  { name: "an admin refund with an empty reason", code: "INVALID_INPUT", run: () => gql(`mutation($id: ID!) { refundRecharge(orderId: $id, reason: "   ") { userErrors { code } } }`, { id: S.aliceOrder }, T.admin) },
  { name: "a minor buying coins", code: "NOT_ADULT", run: () => gql(RECHARGE, { input: rechargeInput() }, T.minor) },
  { name: "a minor sending a gift", code: "NOT_ADULT", run: () => gql(SEND, { input: sendInput() }, T.minor) },
  { name: "the owner-only giftsForSending through the public gateway", code: "GRAPHQL_VALIDATION_FAILED", run: () => gql(`{ giftsForSending(ids: ["${ZERO_UUID}"], region: "US") { id } }`, {}, T.alice) },

  // ---- operation shape: deep, alias bomb, cost bomb, tokens, batch, body size, syntax
  { name: "a query 20 levels deep", code: "QUERY_TOO_DEEP", run: () => gql(`{ creator(id: "rel-hank") { ${"user { creatorProfile { ".repeat(10)}id${" } }".repeat(10)} } }`) },
  { name: "an alias bomb (200 aliases)", code: "TOO_MANY_ALIASES", run: () => gql(`{ ${Array.from({ length: 200 }, (_, i) => `a${i}: gifts { id }`).join(" ")} }`) },
  { name: "a cost bomb (nested lists)", code: "QUERY_TOO_COMPLEX", run: () => gql(`{ creator(id: "rel-hank") { liveSessions(first: 100) { nodes { topGifters(first: 100) { sender { creatorProfile { liveSessions(first: 100) { nodes { id } } } } } } } } }`) },
  { name: "a 5,000-token query", code: "TOO_MANY_TOKENS", run: () => gql(`{ gifts { ${"id ".repeat(5000)} } }`) },
  { name: "a batch of 50 operations", code: "BATCH_TOO_LARGE", run: () => raw(JSON.stringify(Array(50).fill({ query: "{ gifts { id } }" }))) },
  { name: "a 2 MB body", code: "PAYLOAD_TOO_LARGE", run: () => raw(JSON.stringify({ query: "{ gifts { id } }", variables: { pad: "x".repeat(2 * 1024 * 1024) } })) },
  { name: "a body that is not JSON", code: "BAD_REQUEST", run: () => raw("{ not json") },
  { name: "a query with a syntax error", code: "GRAPHQL_PARSE_FAILED", run: () => gql(`mutation { sendGift(input: { ) }`, {}, T.alice) },
  { name: "a mutation on a field that does not exist", code: "GRAPHQL_VALIDATION_FAILED", run: () => gql(`mutation { addCoins(amount: 1000000) }`, {}, T.alice) },
  { name: "60 aliased __schema fields", code: "TOO_MANY_ALIASES", run: () => gql(`{ ${Array.from({ length: 60 }, (_, i) => `s${i}: __schema { types { name } }`).join(" ")} }`) },
  { name: "a 500-alias query straight to the catalog subgraph", code: "TOO_MANY_TOKENS", run: () => post500ToCatalog(500) },
  { name: "a 31-alias query straight to the catalog subgraph", code: "TOO_MANY_ALIASES", run: () => post500ToCatalog(31) },

  // ---- WebSocket: the same operation limits on every subscribe, and the socket bounds
  { name: "a subscription 20 levels deep", code: "QUERY_TOO_DEEP", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { host { ${"user { creatorProfile { ".repeat(9)}id${" } }".repeat(9)} } } }`, {}, T.hank) },
  { name: "a subscription with 200 aliases", code: "TOO_MANY_ALIASES", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { ${Array.from({ length: 200 }, (_, i) => `a${i}: id`).join(" ")} } }`, {}, T.hank) },
  { name: "a 5,000-token subscription", code: "TOO_MANY_TOKENS", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { ${"id ".repeat(5000)} } }`, {}, T.hank) },
  { name: "a subscription cost bomb (nested lists)", code: "QUERY_TOO_COMPLEX", run: () => stream(`subscription { giftReceived(hostId: "rel-hank") { host { liveSessions(first: 100) { nodes { topGifters(first: 100) { sender { creatorProfile { liveSessions(first: 100) { nodes { id } } } } } } } } } }`, {}, T.hank) },
  { name: "a 1 MB connection_init", code: "CLOSE_1009", run: () => rawWs(async () => {
    const raw = await openRaw(stack.gateway.url);
    raw.send({ type: "connection_init", payload: { pad: "x".repeat(1024 * 1024) } });
    return closeCode(await raw.whenClosed());
  }) },
  { name: "a 100 KB subscribe", code: "CLOSE_1009", run: () => rawWs(async () => {
    const raw = await connectRaw(stack.gateway.url, wsAuth());
    raw.send({ id: "1", type: "subscribe", payload: { query: HANK_STREAM, variables: { pad: "x".repeat(100 * 1024) } } });
    return closeCode(await raw.whenClosed());
  }) },
  { name: "a socket that never sends connection_init", code: "CLOSE_4408", run: () => rawWs(async () => closeCode(await (await openRaw(stack.gateway.url)).whenClosed())) },
  { name: "a 21st subscription on one socket", code: "TOO_MANY_SUBSCRIPTIONS", run: () => rawWs(async () => {
    const raw = await connectRaw(stack.gateway.url, wsAuth());
    for (let i = 0; i < 20; i++) raw.send({ id: `s${i}`, type: "subscribe", payload: { query: HANK_STREAM } });
    const answer = await subscribeRaw(raw, "s20", HANK_STREAM);
    await raw.close();
    return answer.type === "error" ? String(answer.payload[0].extensions?.code) : "ACCEPTED";
  }) },
  { name: "a flood of 200 pings", code: "CLOSE_1008", run: () => rawWs(async () => {
    const raw = await connectRaw(stack.gateway.url, wsAuth());
    for (let i = 0; i < 200; i++) raw.send({ type: "ping" });
    return closeCode(await raw.whenClosed());
  }) },
  { name: "a sendGift batched 10 times with one key", code: "OK_ONCE", run: async () => {
    // Not an error, but must not spend 10 times: a batch is 10 operations, the key makes them one.
    const key = `batch-${randomUUID()}`;
    const body = JSON.stringify(Array(10).fill({ query: SEND, variables: { input: sendInput({ idempotencyKey: key }) } }));
    const res = await fetch(stack.gateway.url, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${T.alice}` }, body });
    const out = (await res.json()) as any[];
    const ids = new Set(out.map((r) => r.data?.sendGift?.giftEvent?.id));
    return { code: ids.size === 1 && !ids.has(undefined) ? "OK_ONCE" : `SENT_${ids.size}`, status: res.status, body: "" };
  } },

  // ---- the payment provider's webhook
  { name: "webhook without a signature", code: "HTTP_400:invalid signature", run: () => webhook(JSON.stringify({ id: "evt_x", type: "payment.charged_back", data: { paymentId: "p" } }), null) },
  { name: "webhook chargeback signed with the wrong secret", code: "HTTP_400:invalid signature", run: async () => forgedChargeback("not-the-provider-secret", 0) },
  { name: "webhook chargeback with a stale (replayed) timestamp", code: "HTTP_400:invalid signature", run: async () => forgedChargeback(stack.subgraphs.wallet.services.purchaseConfig.webhookSecret, -3600) },
  { name: "webhook with a malformed signature header", code: "HTTP_400:invalid signature", run: () => webhook("{}", "t=abc,v1=zz") },
  { name: "webhook correctly signed but not an event", code: "HTTP_400:malformed event", run: () => {
    const body = JSON.stringify({ hello: "world" });
    return webhook(body, signPayload(stack.subgraphs.wallet.services.purchaseConfig.webhookSecret, body, Math.floor(Date.now() / 1000)));
  } },
  { name: "webhook correctly signed with an amount that does not match the order", code: "HTTP_200:amount_mismatch", run: async () => {
    const paymentId = (await stack.subgraphs.wallet.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [S.aliceOrder]))[0].provider_payment_id;
    const event = { id: `evt_${randomUUID()}`, type: "payment.charged_back", created: Math.floor(Date.now() / 1000), data: { paymentId, orderId: S.aliceOrder, amountMinor: 1, currency: "USD" } };
    const body = JSON.stringify(event);
    const out = await webhook(body, signPayload(stack.subgraphs.wallet.services.purchaseConfig.webhookSecret, body, Math.floor(Date.now() / 1000)));
    // The event is recorded as received (so a re-delivery is a duplicate) — that row is the only change allowed.
    await stack.subgraphs.wallet.dataSource.query(`DELETE FROM wallet.payment_webhook_events WHERE id = $1`, [event.id]);
    return out;
  } },
];

async function post500ToCatalog(aliases: number): Promise<Outcome> {
  const res = await fetch(stack.subgraphs.catalog.url, {
    method: "POST",
    // Signed as the gateway: the subgraph's own limits hold even for callers allowed in.
    headers: { "content-type": "application/json", ...(await serviceHeaders("catalog")) },
    body: JSON.stringify({ query: `{ ${Array.from({ length: aliases }, (_, i) => `a${i}: gifts { id name imageUrl }`).join(" ")} }` }),
  });
  const body = await res.text();
  return { code: codeOf({ status: res.status, ...JSON.parse(body) }), status: res.status, body };
}

async function forgedChargeback(secret: string, skewSeconds: number): Promise<Outcome> {
  const paymentId = (await stack.subgraphs.wallet.dataSource.query(`SELECT provider_payment_id FROM wallet.recharge_orders WHERE id = $1`, [S.aliceOrder]))[0].provider_payment_id;
  const body = JSON.stringify({ id: `evt_${randomUUID()}`, type: "payment.charged_back", created: 0, data: { paymentId, orderId: S.aliceOrder } });
  return webhook(body, signPayload(secret, body, Math.floor(Date.now() / 1000) + skewSeconds));
}

beforeAll(async () => {
  stack = await startReliabilityStack("relbad");
  T.alice = await tokenFor("rel-alice");
  T.poor = await tokenFor("rel-poor");
  T.mallory = await tokenFor("rel-mallory");
  T.minor = await tokenFor("rel-minor", { adult: false });
  T.hank = await tokenFor("rel-hank", { roles: ["viewer", "host"] });
  T.bob = await tokenFor("rel-bob", { roles: ["viewer", "host"] });
  T.admin = await tokenFor("rel-admin", { roles: ["viewer", "admin"] });
  T.spent = await tokenFor("rel-spent");
  const past = Math.floor(Date.now() / 1000) - 60;
  T.expired = await mintToken({ sub: "rel-alice" }, { expiresIn: past });
  T.expiredHost = await mintToken({ sub: "rel-hank", roles: ["viewer", "host"] }, { expiresIn: past });
  T.forged = await mintToken({ sub: "rel-alice", roles: ["viewer", "admin"] }, { secret: "an-attacker-secret-that-is-long-enough-0123456789" });
  T.wrongAudience = await mintToken({ sub: "rel-alice" }, { audience: "some-other-app" });
  T.wrongIssuer = await mintToken({ sub: "rel-alice" }, { issuer: "https://evil.example" });
  T.algNone = `${b64({ alg: "none", typ: "JWT" })}.${b64({ sub: "rel-hank", roles: ["viewer", "host", "admin"], iss: "gift-economy-idp", aud: "gift-economy", exp: past + 3600, adult: true })}.`;
  const config = loadConfig();
  const timed = (sub: string, roles: string[], exp: number | null) => {
    const jwt = new SignJWT({ roles, region: "US", adult: true }).setProtectedHeader({ alg: "HS256", typ: "JWT" }).setSubject(sub).setIssuer(config.jwtIssuer).setAudience(config.jwtAudience).setIssuedAt();
    return (exp === null ? jwt : jwt.setExpirationTime(exp)).sign(new TextEncoder().encode(config.jwtSecret));
  };
  const month = Math.floor(Date.now() / 1000) + 30 * 86_400;
  T.noExp = await timed("rel-alice", ["viewer"], null);
  T.month = await timed("rel-alice", ["viewer"], month);
  T.noExpHost = await timed("rel-hank", ["viewer", "host"], null);
  T.monthHost = await timed("rel-hank", ["viewer", "host"], month);
  T.forgedService = `Bearer ${await new ServiceSigner({ serviceSecret: "an-attacker-service-secret-long-enough-0123456789" }, "gateway").token("wallet")}`;
  T.catalogService = `Bearer ${await new ServiceSigner(config, "gateway").token("catalog")}`;
  const [h, , sig] = T.alice.split(".");
  T.tampered = `${h}.${b64({ ...JSON.parse(Buffer.from(T.alice.split(".")[1], "base64url").toString()), sub: "rel-hank", roles: ["admin"] })}.${sig}`;

  const sessionOf = async (t: string) => {
    const r = await stack.gql(`mutation { startLiveSession(input: { title: "bad input" }) { liveSession { id } userErrors { code } } }`, {}, t);
    return r.data.startLiveSession.liveSession.id as string;
  };
  S.hankSession = await sessionOf(T.hank);
  S.bobSession = await sessionOf(T.bob);
  const gifts = (await stack.gql(`{ gifts { id slug coinCost } }`)).data.gifts as { id: string; slug: string; coinCost: number }[];
  const interstellar = gifts.find((g) => g.slug === "interstellar")!;
  const rose = gifts.find((g) => g.slug === "rose")!;
  S.giftId = rose.id;
  S.giftCost = rose.coinCost;
  // Alice buys coins and sends hank 20,000 coins of gifts (10,000 diamonds); hank asks for a payout.
  const rc = await stack.gql(RECHARGE, { input: rechargeInput({ customCoins: 30_000, idempotencyKey: "alice-first-recharge" }) }, T.alice);
  expect(rc.data.recharge.order.status).toBe("SUCCEEDED");
  S.aliceOrder = rc.data.recharge.order.id;
  const tds = await stack.gql(RECHARGE, { input: rechargeInput({ customCoins: 500, paymentMethod: { type: "CARD", token: "pm_card_3ds" } }) }, T.alice);
  expect(tds.data.recharge.order.status).toBe("REQUIRES_ACTION");
  S.alice3ds = tds.data.recharge.order.id;
  S.aliceGiftKey = `alice-gift-${randomUUID()}`;
  const sent = await stack.gql(SEND, { input: { giftId: interstellar.id, hostId: "rel-hank", quantity: 2, expectedUnitCost: interstellar.coinCost, idempotencyKey: `setup-${randomUUID()}` } }, T.alice);
  expect(sent.data.sendGift.userErrors).toEqual([]);
  const first = await stack.gql(SEND, { input: sendInput({ idempotencyKey: S.aliceGiftKey }) }, T.alice);
  expect(first.data.sendGift.userErrors).toEqual([]);
  await settleEarnings(stack);
  S.hankPayoutKey = `hank-payout-${randomUUID()}`;
  const po = await stack.gql(PAYOUT, { input: payoutInput({ idempotencyKey: S.hankPayoutKey }) }, T.hank);
  expect(po.data.requestPayout.userErrors).toEqual([]);
  S.hankPayout = po.data.requestPayout.payout.id;
  // A little left for the INSUFFICIENT_DIAMONDS case to be about the amount, not an empty balance.
  const more = await stack.gql(SEND, { input: sendInput({ quantity: 10 }) }, T.alice);
  expect(more.data.sendGift.userErrors).toEqual([]);
  await settleEarnings(stack);
  // Empty buckets: the next money mutation of these users is refused by the subgraph itself.
  for (const [ds, user, action] of [
    [stack.subgraphs.wallet.dataSource, "rel-spent", "sendGift"],
    [stack.subgraphs.wallet.dataSource, "rel-spent", "recharge"],
    [stack.subgraphs.earnings.dataSource, "rel-bob", "requestPayout"],
  ] as const) {
    const schema = ds === stack.subgraphs.wallet.dataSource ? "wallet" : "earnings";
    await ds.query(`INSERT INTO ${schema}.rate_limits (user_id, action, tat) VALUES ($1, $2, now() + interval '1 day')`, [user, action]);
  }
});

afterAll(async () => {
  await stack?.stop();
});

const results: { name: string; code: string }[] = [];

describe("bad input: each gets its typed error and changes nothing", () => {
  it("has at least 60 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", async (_name, c) => {
    const q = (sql: string, p?: unknown[]) => stack.subgraphs.wallet.dataSource.query(sql, p);
    const before = await fingerprint(q);
    const out = await c.run();
    // Let anything the request set in motion (the consumer, NOTIFY) happen before comparing.
    await settleEarnings(stack);
    const after = await fingerprint(q);
    results.push({ name: c.name, code: out.code });
    if (typeof c.code === "string") expect(out.code, out.body.slice(0, 500)).toBe(c.code);
    else expect(out.code, out.body.slice(0, 500)).toMatch(c.code);
    expect(out.status, "never a 5xx").toBeLessThan(500);
    expect(out.body, "no stack trace or SQL in the answer").not.toMatch(/\bat [\w.<>]+ \(|node_modules|\.ts:\d+|QueryFailedError|syntax error at or near/);
    if (c.code !== "OK_ONCE") expect(after, "nothing changed").toEqual(before);
    // The one case that moves money proves the fingerprint sees a change: exactly one gift, not ten.
    else expect([JSON.parse(after.gifts).n - JSON.parse(before.gifts).n, JSON.parse(after.ledger).n - JSON.parse(before.ledger).n]).toEqual([1, 1]);
  });

  it("records the figures", async () => {
    await recordFigures("bad-input", { cases: results.length, results, byCode: results.reduce<Record<string, number>>((m, r) => ((m[r.code] = (m[r.code] ?? 0) + 1), m), {}) });
    expect(results.length).toBe(cases.length);
  });
});
