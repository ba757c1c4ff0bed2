import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startStack, type Stack } from "../support/stack.js";
import { catalogGifts, fund, goLive, key, sendGift, viewerToken } from "../gifting/support.js";
import { opened, subscribe } from "./helpers.js";

let stack: Stack;

beforeAll(async () => {
  stack = await startStack("streame2e");
});
afterAll(async () => {
  await stack?.stop();
});

describe("gifts sent over HTTP reach the live streams", () => {
  it("the host's stream and the room's feed get each sendGift, credited, with the catalog's gift fields; combos carry their count", async () => {
    const sessionId = await goLive(stack, "host-e2e");
    const gifts = await catalogGifts(stack);
    const rose = [...gifts.values()].find((g) => g.streakable)!;
    const other = [...gifts.values()].find((g) => g.id !== rose.id && g.coinCost > 0)!;
    await fund(stack, "fan-e2e", 10_000);
    const hostToken = await stack.token({ sub: "host-e2e", name: "Host host-e2e", roles: ["viewer", "host"] });
    const viewerSide = await viewerToken(stack, "watcher");

    const host = await opened(stack, () =>
      subscribe(stack.gateway.url, hostToken, `subscription($s: ID) { giftReceived(liveSessionId: $s) { id cursor senderName quantity coins diamonds comboId comboCount comboEnded senderBalanceAfter gift { id name imageUrl } sender { id } liveSession { id } } }`, { s: sessionId }),
    );
    const room = await opened(stack, () =>
      subscribe(stack.gateway.url, viewerSide, `subscription($s: ID!) { liveGiftFeed(liveSessionId: $s) { __typename id senderName quantity gift { name } } }`, { s: sessionId }),
    );

    const sender = await viewerToken(stack, "fan-e2e");
    const sent: string[] = [];
    for (const [giftId, quantity, comboId] of [[rose.id, 1, "e2e-combo"], [rose.id, 2, "e2e-combo"], [other.id, 1, null]] as const) {
      const { payload } = await sendGift(stack, sender, { giftId, hostId: "host-e2e", liveSessionId: sessionId, quantity, comboId, expectedUnitCost: giftId === rose.id ? rose.coinCost : other.coinCost, idempotencyKey: key("e2e") });
      expect(payload?.userErrors).toEqual([]);
      sent.push(payload!.giftEvent.id);
    }

    // Gifts, plus the end of the combo that the third send broke.
    const events = (await host.waitFor(4)).map((e) => e.data.giftReceived);
    expect(events.filter((e) => e.quantity > 0).map((e) => e.id)).toEqual(sent);
    expect(events[0]).toMatchObject({
      senderName: "Viewer fan-e2e",
      quantity: 1,
      coins: rose.coinCost,
      gift: { id: rose.id, name: rose.name },
      sender: { id: "fan-e2e" },
      liveSession: { id: sessionId },
      comboId: "e2e-combo",
      comboCount: 1,
      comboEnded: false,
    });
    expect(events[0].diamonds).toBe(Math.floor(rose.coinCost / 2)); // the default 50% share, credited by the consumer
    expect(events[1]).toMatchObject({ quantity: 2, comboCount: 3, comboEnded: false });
    expect(events[2]).toMatchObject({ quantity: 0, coins: 0, comboCount: 3, comboEnded: true });
    expect(events[3]).toMatchObject({ id: sent[2], gift: { name: other.name }, comboCount: null });
    // The wallet's field resolves through the same plan (null: the host is not the sender), combo end included.
    expect(events.map((e) => e.senderBalanceAfter)).toEqual([null, null, null, null]);
    expect(host.errors).toEqual([]);

    const roomEvents = (await room.waitFor(4)).map((e) => e.data.liveGiftFeed);
    expect(roomEvents.map((e) => e.id)).toEqual(events.map((e) => e.id));
    // The room's view is its own type, without diamonds (DECISIONS 59): no cache can mix it with the host's GiftEvent.
    expect(roomEvents.every((e) => e.__typename === "RoomGiftEvent" && !("diamonds" in e))).toBe(true);
    expect(roomEvents[0]).toMatchObject({ senderName: "Viewer fan-e2e", gift: { name: rose.name } });
    await Promise.all([host.dispose(), room.dispose()]);
  });
});
