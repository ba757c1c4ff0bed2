import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mintToken } from "../../platform/auth.js";
import { post, startStack, type Stack } from "../support/stack.js";

let stack: Stack;
beforeAll(async () => {
  stack = await startStack("catgateway");
});
afterAll(async () => {
  await stack?.stop();
});

describe("the catalog through the gateway", () => {
  it("does not expose the owner read giftsForSending in the public API (it is @inaccessible)", async () => {
    const res = await stack.gql(`{ giftsForSending(ids: [], region: "US") { id } }`);
    expect(res.data).toBeUndefined();
    expect(res.errors?.[0].extensions?.code).toBe("GRAPHQL_VALIDATION_FAILED");
    // ...while the catalog subgraph itself answers it for the wallet (a signed caller).
    const direct = await post(stack.subgraphs.catalog.url, `{ giftsForSending(ids: [], region: "US") { id } }`, {}, { service: "catalog" });
    expect(direct.data).toEqual({ giftsForSending: [] });
  });

  it("lets an admin create and schedule a gift through the gateway, and refuses a viewer with FORBIDDEN", async () => {
    const admin = await mintToken({ sub: "admin-gw", roles: ["admin"] });
    const viewer = await mintToken({ sub: "viewer-gw" });
    const create = `mutation ($input: CreateGiftInput!) { createGift(input: $input) { gift { id slug coinCost } userErrors { code } } }`;
    const input = { slug: "gw-heart", name: "Gateway Heart", coinCost: 42, category: "BASIC", imageUrl: "gw-heart.png" };
    const denied = await stack.gql(create, { input }, viewer);
    expect(denied.errors?.[0].extensions?.code).toBe("FORBIDDEN");
    const ok = await stack.gql(create, { input }, admin);
    expect(ok.data.createGift).toMatchObject({ gift: { slug: "gw-heart", coinCost: 42 }, userErrors: [] });
    const id = ok.data.createGift.gift.id;
    const sched = await stack.gql(
      `mutation ($input: ScheduleGiftPriceInput!) { scheduleGiftPrice(input: $input) { scheduledPrice { coinCost validFrom } userErrors { code } } }`,
      { input: { giftId: id, coinCost: 45, effectiveAt: "2036-01-01T00:00:00.000Z" } },
      admin,
    );
    expect(sched.data.scheduleGiftPrice).toEqual({ scheduledPrice: { coinCost: 45, validFrom: "2036-01-01T00:00:00.000Z" }, userErrors: [] });
    const listed = await stack.gql(`{ gifts(category: "BASIC") { slug coinCost priceHistory { coinCost reason } } }`);
    expect(listed.data.gifts.find((g: any) => g.slug === "gw-heart")).toEqual({ slug: "gw-heart", coinCost: 42, priceHistory: [{ coinCost: 42, reason: "INITIAL" }] });
  });
});
