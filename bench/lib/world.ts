import { randomUUID } from "node:crypto";
import { mintToken } from "../../platform/auth.js";
import { readManifest } from "../../gateway/persisted-operations.js";
import { gql, pool } from "./client.js";

/**
 * The people in the benchmark, created through the public API like real users: hosts become
 * creators and go live; senders buy coins with the sandbox card (recharge, pm_card_ok).
 */
export interface Person {
  id: string;
  token: string;
  authorization: string;
}

export interface Host extends Person {
  liveSessionId: string;
}

export interface World {
  senders: Person[];
  hosts: Host[];
  /** The hot host (also the delivery and fan-out room). */
  hot: Host;
  viewers: Person[];
  gift: { id: string; coinCost: number; name: string };
  coinsPerSender: number;
}

const RECHARGE = `mutation R($i: RechargeInput!) { recharge(input: $i) { order { status totalCoins } userErrors { code message } } }`;
const BECOME_CREATOR = `query { me { creatorProfile { id } } }`;
const GO_LIVE = `mutation L($i: StartLiveSessionInput!) { startLiveSession(input: $i) { liveSession { id } userErrors { code message } } }`;

export async function person(id: string, secret: string, roles: ("viewer" | "host")[] = ["viewer"]): Promise<Person> {
  const token = await mintToken({ sub: id, name: `Bench ${id}`, roles, region: "US", adult: true }, { secret, expiresIn: "3h" });
  return { id, token, authorization: `Bearer ${token}` };
}

export async function buildWorld(gatewayUrl: string, secret: string, opts: { senders: number; hosts: number; viewers: number; coinsPerSender: number }): Promise<World> {
  const run = randomUUID().slice(0, 8);
  const gifts = await gql<{ gifts: { id: string; name: string; coinCost: number; streakable: boolean }[] }>(gatewayUrl, `{ gifts(region: "US") { id name coinCost streakable } }`);
  const gift = [...gifts.gifts].sort((a, b) => a.coinCost - b.coinCost)[0];
  if (!gift) throw new Error("the catalog has no gifts (seed missing?)");

  const hosts = await liveHosts(gatewayUrl, secret, opts.hosts + 1, `bench-host-${run}`);
  const hot = hosts.pop()!;

  const senders = await Promise.all(Array.from({ length: opts.senders }, (_, i) => person(`bench-sender-${run}-${i}`, secret)));
  await pool(senders, 8, async (s) => {
    const r = await gql(gatewayUrl, RECHARGE, { i: { customCoins: opts.coinsPerSender, paymentMethod: { type: "CARD", token: "pm_card_ok" }, idempotencyKey: randomUUID() } }, s.token);
    const p = r.recharge;
    if (p.userErrors.length || p.order?.status !== "SUCCEEDED") throw new Error(`recharge for ${s.id}: ${JSON.stringify(p)}`);
  });
  const viewers = await Promise.all(Array.from({ length: opts.viewers }, (_, i) => person(`bench-viewer-${run}-${i}`, secret)));
  return { senders, hosts, hot, viewers, gift, coinsPerSender: opts.coinsPerSender };
}

/** `n` hosts, each a creator live in their own session (a room). */
export async function liveHosts(gatewayUrl: string, secret: string, n: number, prefix = `bench-room-${randomUUID().slice(0, 8)}`): Promise<Host[]> {
  const people = await Promise.all(Array.from({ length: n }, (_, i) => person(`${prefix}-${i}`, secret, ["viewer", "host"])));
  return pool(people, 8, async (h): Promise<Host> => {
    await gql(gatewayUrl, BECOME_CREATOR, {}, h.token);
    const r = await gql(gatewayUrl, GO_LIVE, { i: { title: `Bench live ${h.id}` } }, h.token);
    const p = r.startLiveSession;
    if (p.userErrors.length) throw new Error(`startLiveSession: ${p.userErrors[0].code} ${p.userErrors[0].message}`);
    return { ...h, liveSessionId: p.liveSession.id };
  });
}

/**
 * sendGift as the web app sends it: its SendGift operation by persisted-operation id alone
 * (web/src/apollo.ts, Apollo's APQ wire format), so the gateway serves the document it parsed and
 * validated at start (gateway/persisted-operations.ts) instead of hashing and looking up a text.
 */
const SEND_GIFT_OPERATION = (() => {
  const op = readManifest().operations.find((o) => o.name === "SendGift");
  if (!op) throw new Error("schema/persisted-operations.json has no SendGift (npm run operations:manifest)");
  return op;
})();

/** One sendGift request body: `quantity` 1 of the world's gift to `host`, with a fresh or given idempotency key. */
export function sendGiftBody(world: World, host: Host, idempotencyKey: string = randomUUID()): string {
  return JSON.stringify({
    operationName: SEND_GIFT_OPERATION.name,
    variables: { input: { giftId: world.gift.id, hostId: host.id, liveSessionId: host.liveSessionId, quantity: 1, expectedUnitCost: world.gift.coinCost, idempotencyKey } },
    extensions: { persistedQuery: { version: 1, sha256Hash: SEND_GIFT_OPERATION.id } },
  });
}

/** A sendGift request body for autocannon: the next sender (round robin), a fresh idempotency key. */
export function sendGiftRequests(world: World, hostsFor: () => Host) {
  let i = 0;
  return () => {
    const sender = world.senders[i++ % world.senders.length];
    const host = hostsFor();
    return {
      body: sendGiftBody(world, host),
      headers: { authorization: sender.authorization },
    };
  };
}
