import "reflect-metadata";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { until } from "../stream/helpers.js";
import { fund } from "../gifting/support.js";
import { signIn, startWebStack, type WebStack } from "./support.js";

let w: WebStack;
let host: Page;
let viewer: Page;
let overlay: Page;

const bar = (page: Page, title: string) => page.getByTestId("goal-bar").filter({ hasText: title });
const barAt = (page: Page, title: string, progress: number) => page.locator(`[data-testid="goal-bar"][data-progress="${progress}"]`).filter({ hasText: title });

beforeAll(async () => {
  w = await startWebStack("webengage");
  host = await (await w.context()).newPage();
  viewer = await (await w.context()).newPage();
  overlay = await (await w.context()).newPage();
});
afterAll(async () => {
  await w?.stop();
});

describe("LIVE engagement in the web app", () => {
  it("the host goes live and creates goals in the studio: the open overlay draws their bars without a reload", async () => {
    await host.goto(`${w.web.url}/studio`);
    await signIn(host, "gina", "Gina", true);
    await host.getByTestId("live-title").fill("Gina sings");
    await host.getByTestId("go-live").click();
    await host.getByTestId("live-status").waitFor();
    await host.getByTestId("create-overlay").click();
    const url = await host.getByTestId("overlay-url").inputValue();
    expect(url).toMatch(/#token=ovl_[^&]+&host=gina$/);
    const opened = w.stack.subgraphs.earnings.services.stream.stats.opened;
    await overlay.goto(url.replace("/overlay#", "/overlay?alertMs=1500&goalsMs=1000#"));
    await until(() => w.stack.subgraphs.earnings.services.stream.stats.opened > opened, "the overlay's subscription to reach earnings");
    expect(await overlay.getByTestId("goal-bar").count()).toBe(0);

    await host.getByTestId("goal-title").fill("Next song");
    await host.getByTestId("goal-target").fill("10");
    await host.getByTestId("create-goal").click();
    await host.getByTestId("studio-message").filter({ hasText: "Goal created" }).waitFor();
    await host.getByTestId("goal-title").fill("Dance break");
    await host.getByTestId("goal-target").fill("1000");
    await host.getByTestId("create-goal").click();
    await host.getByTestId("studio-goal").filter({ hasText: "Dance break" }).filter({ hasText: "active" }).waitFor();
    await host.getByTestId("studio-goal").filter({ hasText: "Next song" }).filter({ hasText: "0 / 10 coins" }).waitFor();
    await w.shot(host, "studio-goals");

    await barAt(overlay, "Next song", 0).waitFor({ timeout: 10_000 });
    await barAt(overlay, "Dance break", 0).waitFor();
    await w.shot(overlay, "overlay-goals", { transparent: true });
  });

  it("a viewer sends a gift with a message anonymously: the feed shows the message and Anonymous, never the name; the length a gift buys is enforced before sending", async () => {
    await fund(w.stack, "vera", 200);
    await viewer.goto(w.web.url);
    await signIn(viewer, "vera", "Vera", false);
    const card = viewer.getByTestId("room-card").filter({ hasText: "Gina" });
    await card.waitFor();
    await card.getByRole("link").click();
    await viewer.getByTestId("room-title").filter({ hasText: "Gina sings" }).waitFor();
    await viewer.getByTestId("balance").filter({ hasText: /^200$/ }).waitFor();
    await viewer.getByTestId("my-level").filter({ hasText: /^1$/ }).waitFor();
    await barAt(viewer, "Next song", 0).waitFor();

    // 23 characters: more than a 1-coin Rose buys (20); a 10-coin gift would carry it.
    await viewer.getByTestId("gift-message").fill("Hello from the back row");
    await viewer.getByTestId("message-hint").filter({ hasText: "needs a gift of 10+ coins" }).waitFor();
    expect(await viewer.getByTestId("send-Rose").isDisabled()).toBe(true);
    expect(await viewer.getByTestId("send-Perfume").isDisabled()).toBe(false);

    await viewer.getByTestId("gift-message").fill("Hi from the back!");
    await viewer.getByTestId("gift-anonymous").check();
    await until(() => w.stack.subgraphs.earnings.services.stream.stats.subscribers >= 2, "the room feed and the overlay to be subscribed");
    await viewer.getByTestId("send-Rose").click();
    // The overlay's alert first (it shows for 1.5 s here).
    const alert = overlay.getByTestId("overlay-alert").filter({ hasText: "Anonymous" });
    await alert.waitFor();
    expect(await alert.getByTestId("alert-message").textContent()).toContain("Hi from the back!");
    expect(await overlay.getByTestId("overlay").textContent()).not.toContain("Vera");
    const line = viewer.getByTestId("feed-line").filter({ hasText: "Hi from the back!" });
    await line.waitFor();
    expect(await line.getByTestId("feed-sender").textContent()).toBe("Anonymous");
    expect(await line.getByTestId("feed-level").count()).toBe(0);
    expect(await viewer.getByTestId("feed").textContent()).not.toContain("Vera");
    expect(await viewer.getByTestId("gift-message").inputValue()).toBe(""); // a message goes with one gift
    await barAt(viewer, "Next song", 1).waitFor();
    await w.shot(viewer, "room-anonymous-message");

    await barAt(overlay, "Next song", 1).waitFor();
  });

  it("named gifts carry the sender's level badge and one level-up line; the goal bar moves with each gift and shows reached on the overlay", async () => {
    await viewer.getByTestId("gift-anonymous").uncheck();
    await viewer.getByTestId("send-Finger Heart").click();
    // 1 + 5 lifetime coins: level 2 (from 5 coins).
    const named = viewer.getByTestId("feed-line").filter({ hasText: "Vera" });
    await named.getByTestId("feed-level").filter({ hasText: "Lv 2" }).waitFor();
    await viewer.getByTestId("feed-levelup").filter({ hasText: "Vera reached gifter level 2" }).waitFor();
    await viewer.getByTestId("my-level").filter({ hasText: /^2$/ }).waitFor();
    await barAt(overlay, "Next song", 6).waitFor();
    expect(await bar(overlay, "Next song").getAttribute("data-reached")).toBe("false");

    await viewer.getByTestId("send-Perfume").click();
    await barAt(overlay, "Next song", 26).waitFor();
    expect(await bar(overlay, "Next song").getAttribute("data-reached")).toBe("true");
    await bar(overlay, "Next song").getByTestId("goal-reached").waitFor();
    await bar(viewer, "Next song").getByTestId("goal-reached").waitFor();
    expect(await viewer.getByTestId("feed-levelup").count()).toBe(1);
    await w.shot(overlay, "overlay-goal-reached", { transparent: true });
    await w.shot(viewer, "room-goal-reached");
    await host.getByTestId("studio-goal").filter({ hasText: "Next song" }).filter({ hasText: "reached" }).waitFor({ timeout: 10_000 });
  });

  it("the host edits and cancels a goal in the studio: refusals are shown in words, and the overlay drops a canceled goal without a reload", async () => {
    const dance = host.getByTestId("studio-goal").filter({ hasText: "Dance break" });
    await dance.filter({ hasText: "26 / 1000 coins" }).waitFor({ timeout: 10_000 });
    await dance.getByTestId("edit-goal").click();
    await dance.getByTestId("edit-goal-target").fill("20");
    await dance.getByTestId("save-goal").click();
    await host.getByTestId("studio-error").filter({ hasText: "above the progress so far (26)" }).waitFor();
    await dance.getByTestId("edit-goal-target").fill("500");
    await dance.getByTestId("edit-goal-title").fill("Dance break!");
    await dance.getByTestId("save-goal").click();
    await host.getByTestId("studio-message").filter({ hasText: "Goal updated" }).waitFor();
    await barAt(overlay, "Dance break!", 26).waitFor({ timeout: 10_000 });
    expect(await bar(overlay, "Dance break!").getAttribute("data-target")).toBe("500");

    await host.getByTestId("studio-goal").filter({ hasText: "Dance break!" }).getByTestId("cancel-goal").click();
    await host.getByTestId("studio-goal").filter({ hasText: "Dance break!" }).filter({ hasText: "canceled" }).waitFor();
    await bar(overlay, "Dance break!").waitFor({ state: "detached", timeout: 10_000 });
    expect(await bar(overlay, "Next song").count()).toBe(1);
  });
});
