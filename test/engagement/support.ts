import "reflect-metadata";
import { expect } from "vitest";
import type { Stack } from "../support/stack.js";
import { subscribe } from "../stream/helpers.js";

export { catalogGifts, eventually, fund, goLive, endLive, key, sendGift, viewerToken } from "../gifting/support.js";

export const hostToken = (stack: Stack, hostId: string) => stack.token({ sub: hostId, name: `Host ${hostId}`, roles: ["viewer", "host"], adult: true, region: "US" });

/** A stream cursor before every event (replay from the start). */
export const START = Buffer.from("gf1:0", "utf8").toString("base64url");

/** Sends through the gateway with the engagement fields selected; fails the test on a GraphQL error. */
export const SEND = `mutation($input: SendGiftInput!) {
  sendGift(input: $input) {
    giftEvent { id sender { id } senderName coins message anonymous videoId }
    userErrors { code message field }
  }
}`;

export async function send(stack: Stack, token: string, input: Record<string, unknown>) {
  const res = await stack.gql(SEND, { input }, token);
  expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
  return res.data.sendGift as { giftEvent: any; userErrors: any[] };
}

/** Every event of a stream so far (replayed from the start through the gateway), waiting until `n` arrived. */
export async function streamEvents(stack: Stack, token: string, query: string, variables: Record<string, unknown>, n: number): Promise<any[]> {
  const sub = subscribe(stack.gateway.url, token, query, { ...variables, after: START });
  try {
    const events = await sub.waitFor(n);
    expect(sub.errors).toEqual([]);
    return events.map((e) => Object.values(e.data)[0]);
  } finally {
    await sub.dispose();
  }
}

/** Count of credited gifts (earnings), to wait for the consumer. */
export async function credited(stack: Stack): Promise<number> {
  const [r] = await stack.subgraphs.earnings.dataSource.query(`SELECT count(*)::int AS n FROM earnings.gift_credits`);
  return r.n;
}
