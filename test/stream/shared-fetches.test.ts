import "reflect-metadata";
import { buildSchema, isObjectType } from "graphql";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CALLER_INDEPENDENT_FIELDS, SharedEntityFetches } from "../../gateway/subscriptions/shared-fetches.js";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, credit, item, makeHost, opened, subscribe, until, type Sub } from "./helpers.js";

let stack: Stack;
let gifts: { id: string; name: string; imageUrl: string }[];
let sessionId: string;

const ROOM = `subscription($s: ID!) { liveGiftFeed(liveSessionId: $s) { id quantity gift { name imageUrl } } }`;
const ROOM_WITH_HISTORY = `subscription($s: ID!) { liveGiftFeed(liveSessionId: $s) { id gift { name priceHistory { coinCost } } } }`;

beforeAll(async () => {
  stack = await startStack("sharedfetch");
  gifts = await catalogGifts(stack);
  await makeHost(stack, "host-big");
  const session = await stack.subgraphs.earnings.services.sessions.start({ id: "host-big", name: "HOST-BIG", roles: ["host"], region: "US", adult: true, exp: undefined }, "big room");
  sessionId = session.id;
});
afterAll(async () => {
  await stack?.stop();
});

async function viewers(n: number, query: string): Promise<Sub[]> {
  const subs = await opened(
    stack,
    async () => Promise.all(Array.from({ length: n }, async (_, i) => subscribe(stack.gateway.url, await stack.token({ sub: `viewer-${i}`, roles: ["viewer"] }), query, { s: sessionId }))),
    n,
  );
  return subs;
}

/** Disposes the viewers and waits until their room has closed (it lingers briefly after the last one leaves). */
async function leave(subs: Sub[]): Promise<void> {
  await Promise.all(subs.map((s) => s.dispose()));
  await until(() => stack.gateway.subscriptions.stats.rooms === 0, "the room to close");
}

describe("a big room's feed asks the catalog once per gift, not once per viewer", () => {
  it("20 viewers selecting the gift's public fields: every viewer gets the name and image, the catalog is asked once", async () => {
    const shared = stack.gateway.subscriptions.sharedFetches.catalog;
    const gw = stack.gateway.subscriptions;
    const subs = await viewers(20, ROOM);
    const before = { ...shared.stats };
    const executionsBefore = gw.stats.roomExecutions;
    await credit(stack, [item({ hostId: "host-big", giftId: gifts[2].id, liveSessionId: sessionId })]);
    for (const s of subs) {
      const [e] = await s.waitFor(1);
      expect(e.data.liveGiftFeed.gift).toEqual({ name: gifts[2].name, imageUrl: gifts[2].imageUrl });
    }
    // The room executes the event once for all 20 viewers (rooms.ts): one catalog fetch, never 20.
    expect(gw.stats.roomExecutions - executionsBefore).toBe(1);
    expect(shared.stats.fetched - before.fetched).toBe(1);
    expect(shared.stats.shared - before.shared).toBe(0);
    await leave(subs);
  });

  it("asks without the caller's token, hands each caller its own copy, and never reuses a failure", async () => {
    const seen: (string | undefined)[] = [];
    let fail = true;
    const inner = {
      process: async (o: { context: { authorization?: string } }) => {
        seen.push(o.context.authorization);
        if (fail) return { errors: [{ message: "catalog is unavailable" }] };
        return { data: { _entities: [{ name: "Rose" }] } };
      },
    };
    const shared = new SharedEntityFetches(inner as never, CALLER_INDEPENDENT_FIELDS.catalog);
    const fetch = (authorization: string) =>
      shared.process({
        request: { query: `query($representations:[_Any!]!){_entities(representations:$representations){...on Gift{name}}}`, variables: { representations: [{ __typename: "Gift", id: "g" }] } },
        context: { authorization, requestId: "r" },
      } as never);
    const failed = await fetch("Bearer viewer-a");
    expect(failed.errors).toHaveLength(1);
    fail = false;
    const [a, b] = await Promise.all([fetch("Bearer viewer-b"), fetch("Bearer viewer-c")]);
    expect(seen).toEqual([undefined, undefined]);
    expect(a.data).toEqual({ _entities: [{ name: "Rose" }] });
    (a.data as { _entities: { name: string }[] })._entities[0].name = "changed by one caller";
    expect(b.data).toEqual({ _entities: [{ name: "Rose" }] });
  });

  it("a selection with a caller-dependent field (priceHistory: admins see more) is fetched per viewer, with the viewer's token", async () => {
    const shared = stack.gateway.subscriptions.sharedFetches.catalog;
    const subs = await viewers(3, ROOM_WITH_HISTORY);
    const before = { ...shared.stats };
    await credit(stack, [item({ hostId: "host-big", giftId: gifts[4].id, liveSessionId: sessionId })]);
    for (const s of subs) expect((await s.waitFor(1))[0].data.liveGiftFeed.gift.priceHistory.length).toBeGreaterThan(0);
    expect(shared.stats.passedThrough - before.passedThrough).toBe(3);
    expect(shared.stats.fetched - before.fetched).toBe(0);
    await leave(subs);
  });

  it("lists only fields that exist on the supergraph's types and take no arguments", () => {
    const api = buildSchema(readFileSync("schema/api.graphql", "utf8"));
    for (const types of Object.values(CALLER_INDEPENDENT_FIELDS)) {
      for (const [typeName, fields] of Object.entries(types)) {
        const type = api.getType(typeName);
        expect(isObjectType(type), typeName).toBe(true);
        const defs = isObjectType(type) ? type.getFields() : {};
        for (const f of fields) {
          expect(defs[f], `${typeName}.${f}`).toBeDefined();
          expect(defs[f].args, `${typeName}.${f}`).toEqual([]);
        }
      }
    }
  });
});
