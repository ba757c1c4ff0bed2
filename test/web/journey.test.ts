import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { until } from "../stream/helpers.js";
import { signIn, startWebStack, type WebStack } from "./support.js";

let w: WebStack;
let host: Page;
let viewer: Page;
let overlay: Page;
let overlayUrl: string;
let firstAlertId: string;

const hubSubscribers = () => w.stack.subgraphs.earnings.services.stream.stats.subscribers;

async function balance(page: Page): Promise<number> {
  return Number(await page.getByTestId("balance").textContent());
}

async function waitBalance(page: Page, coins: number): Promise<void> {
  await page.getByTestId("balance").filter({ hasText: new RegExp(`^${coins}$`) }).waitFor({ timeout: 10_000 });
}

/** Opens the overlay and waits until its subscription has reached the earnings stream. */
async function openOverlay(load: () => Promise<unknown>): Promise<void> {
  const before = w.stack.subgraphs.earnings.services.stream.stats.opened;
  await load();
  await until(() => w.stack.subgraphs.earnings.services.stream.stats.opened > before, "the overlay's subscription to reach earnings");
}

beforeAll(async () => {
  w = await startWebStack("webjourney");
  host = await (await w.context()).newPage();
  viewer = await (await w.context()).newPage();
  overlay = await (await w.context()).newPage(); // OBS: a browser of its own, no user session
});
afterAll(async () => {
  await w?.stop();
});

describe("the web app, from its own origin", () => {
  it("runs on an origin other than the gateway's", () => {
    expect(new URL(w.web.url).origin).not.toBe(new URL(w.stack.gateway.url).origin);
  });

  it("a host goes live in the studio and creates an overlay link for OBS", async () => {
    await host.goto(`${w.web.url}/studio`);
    await signIn(host, "hana", "Hana", true);
    await host.getByTestId("live-title").fill("Hana's evening stream");
    await host.getByTestId("go-live").click();
    await host.getByTestId("live-status").waitFor();
    await host.getByTestId("create-overlay").click();
    overlayUrl = await host.getByTestId("overlay-url").inputValue();
    expect(overlayUrl).toMatch(new RegExp(`^${w.web.url}/overlay#token=ovl_`));
    await w.shot(host, "studio-live");
    // Short alerts so the test's queue moves; OBS uses the default 4 s.
    await openOverlay(() => overlay.goto(overlayUrl.replace("/overlay#", "/overlay?alertMs=1500#")));
  });

  it("a viewer signs in, opens the live room (no coins: offered a recharge), buys 70 coins and sends a Rose: the overlay shows it within 2 s, the feed too, the balance drops by 1", async () => {
    await viewer.goto(w.web.url);
    await signIn(viewer, "vera", "Vera", false);
    const card = viewer.getByTestId("room-card").filter({ hasText: "Hana" });
    await card.waitFor();
    await w.shot(viewer, "live-now");
    await card.getByRole("link").click();
    await viewer.getByTestId("room-title").filter({ hasText: "Hana's evening stream" }).waitFor();
    await waitBalance(viewer, 0);

    // With no coins, sending says so in words and offers to recharge.
    await viewer.getByTestId("send-Rose").click();
    await viewer.getByTestId("send-error").filter({ hasText: "Not enough coins" }).waitFor();
    await w.shot(viewer, "room-insufficient-coins");
    await viewer.getByTestId("recharge-offer").click();
    await viewer.getByTestId("recharge").waitFor();
    await viewer.getByTestId("card").selectOption("pm_card_ok");
    await viewer.getByTestId("package-70").click();
    await viewer.getByTestId("recharge-done").filter({ hasText: "Added 70 coins" }).waitFor();
    await waitBalance(viewer, 70);

    await until(() => hubSubscribers() >= 2, "the room feed and the overlay to be subscribed");
    await viewer.getByTestId("send-Rose").click();
    const alert = overlay.getByTestId("overlay-alert").filter({ hasText: "Vera" });
    await alert.waitFor({ timeout: 2000 });
    expect(await alert.textContent()).toMatch(/Vera\s*sent Rose/);
    expect(await overlay.getByTestId("alert-count").textContent()).toBe("×1");
    firstAlertId = (await alert.getAttribute("data-event-id"))!;
    // OBS composites the page over the scene: the page itself must be transparent.
    const backgrounds = await overlay.evaluate(() => [getComputedStyle(document.documentElement).backgroundColor, getComputedStyle(document.body).backgroundColor]);
    expect(backgrounds).toEqual(["rgba(0, 0, 0, 0)", "rgba(0, 0, 0, 0)"]);
    await w.shot(overlay, "overlay-alert", { transparent: true });

    await viewer.getByTestId("feed-line").filter({ hasText: "Vera" }).filter({ hasText: "Rose" }).waitFor();
    await waitBalance(viewer, 69);
    await w.shot(viewer, "room-after-rose");
  });

  it("a 3-D Secure purchase asks the bank's confirmation, then credits the coins", async () => {
    const before = await balance(viewer);
    await viewer.getByTestId("card").selectOption("pm_card_3ds");
    await viewer.getByTestId("package-70").click();
    await viewer.getByTestId("three-ds").waitFor();
    expect(await balance(viewer)).toBe(before); // nothing credited before the bank says yes
    await w.shot(viewer, "three-d-secure");
    await viewer.getByTestId("three-ds-approve").click();
    await viewer.getByTestId("recharge-done").filter({ hasText: "Added 70 coins" }).waitFor();
    await waitBalance(viewer, before + 70);
  });

  it("after a reload the overlay resumes after its last alert: none is shown twice", async () => {
    await overlay.getByTestId("overlay-alert").waitFor({ state: "detached", timeout: 10_000 });
    await openOverlay(() => overlay.reload());
    await viewer.getByTestId("send-Rose").click();
    const next = overlay.getByTestId("overlay-alert");
    await next.waitFor();
    const shown = await overlay.evaluate(() => window.__overlayShown ?? []);
    expect(shown.length).toBeGreaterThan(0);
    expect(shown).not.toContain(firstAlertId);
    expect(await next.getAttribute("data-event-id")).not.toBe(firstAlertId);
    await w.shot(overlay, "overlay-after-reload", { transparent: true });
  });

  it("in a storm every gift gets its alert, in order (queued, none dropped); test gifts are marked TEST", async () => {
    const token = await w.stack.token({ sub: "hana", name: "Hana", roles: ["viewer", "host"] });
    const gifts = (await w.stack.gql(`{ gifts { id } }`)).data.gifts;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await w.stack.gql(`mutation($g: ID!) { sendTestGift(input: { giftId: $g }) { giftEvent { id } } }`, { g: gifts[i].id }, token);
      ids.push(r.data.sendTestGift.giftEvent.id);
    }
    await overlay.getByTestId("overlay-alert").filter({ hasText: "TEST" }).first().waitFor({ timeout: 15_000 });
    await w.shot(overlay, "overlay-test-gift", { transparent: true });
    await until(async () => {
      const shown = await overlay.evaluate(() => window.__overlayShown ?? []);
      return ids.every((id) => shown.includes(id));
    }, "every test gift's alert to be shown", 30_000);
    const shown = await overlay.evaluate(() => window.__overlayShown ?? []);
    expect(shown.filter((id) => ids.includes(id))).toEqual(ids);
  });

  it("a revoked overlay link stops the overlay: it says so and shows no further gift", async () => {
    await host.reload();
    await host.getByTestId("revoke-overlay").first().click();
    await host.getByTestId("studio-message").filter({ hasText: "revoked" }).waitFor();
    await overlay.getByTestId("overlay-status").filter({ hasText: "revoked" }).waitFor({ timeout: 5000 });
    const shownBefore = await overlay.evaluate(() => (window.__overlayShown ?? []).length);
    await viewer.getByTestId("send-Finger Heart").click();
    // The room got it (the stream works); the overlay, cut off, did not.
    await viewer.getByTestId("feed-line").filter({ hasText: "Finger Heart" }).waitFor();
    expect(await overlay.evaluate(() => (window.__overlayShown ?? []).length)).toBe(shownBefore);
    await w.shot(overlay, "overlay-revoked", { transparent: true });
  });

  it("the app sent its operations as persisted-operation ids the gateway knew (no id needed its text resent)", () => {
    const stats = w.stack.gateway.persistedOperations.stats;
    expect(stats.byId).toBeGreaterThan(10);
    expect(stats.unknownIds).toBe(0);
  });
});
