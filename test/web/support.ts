import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { defaultStaticDir, startWebServer, type RunningWebServer } from "../../web/server.js";
import { startStack, type Stack } from "../support/stack.js";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
export const SCREENSHOTS = path.resolve(".data/screenshots");

/** Flags that work as root on this machine kind (STACK.md); background networking off: no dialling out. */
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"];

export interface WebStack {
  stack: Stack;
  web: RunningWebServer;
  browser: Browser;
  /** A fresh browser context (its own storage: a separate person or device). */
  context(): Promise<BrowserContext>;
  /** Saves a screenshot for people to look at (never compared pixel by pixel). */
  shot(page: Page, name: string, opts?: { transparent?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The product in-process on free ports plus the built web app on ITS OWN origin
 * (http://localhost:<port>, the gateway being http://127.0.0.1:<other port>): every call the
 * app makes crosses origins, as in production.
 */
export async function startWebStack(label: string, opts: { corsOrigins?: (webUrl: string) => string } = {}): Promise<WebStack> {
  if (!existsSync(path.join(defaultStaticDir(), "index.html"))) throw new Error("the web app is not built: run `npm run build` (npm run test:web does)");
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: apt-get install -y chromium (see README, "Web app")`);
  // The web server first: its origin is where overlay links must point (WEB_APP_URL).
  let gatewayUrl = "";
  const web = await startWebServer({ port: 0, gatewayUrl: "http://127.0.0.1:0/graphql", production: false, gatewayUrlProvider: () => gatewayUrl });
  // Configuration is read once at start-up: set it for the stack's start only.
  const env: Record<string, string> = { WEB_APP_URL: web.url, ...(opts.corsOrigins ? { CORS_ORIGINS: opts.corsOrigins(web.url) } : {}) };
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  let stack: Stack;
  try {
    stack = await startStack(label);
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  gatewayUrl = stack.gateway.url;
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const contexts: BrowserContext[] = [];
  return {
    stack,
    web,
    browser,
    async context() {
      const c = await browser.newContext({ viewport: { width: 1100, height: 760 } });
      contexts.push(c);
      return c;
    },
    async shot(page, name, opts = {}) {
      await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true, omitBackground: opts.transparent ?? false });
    },
    async stop() {
      for (const c of contexts) await c.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
      await web.stop();
      await stack.stop();
    },
  };
}

/** Signs in through the app's development sign-in and waits until the header shows the name. */
export async function signIn(page: Page, id: string, name: string, asHost: boolean): Promise<void> {
  await page.getByTestId("open-sign-in").click();
  await page.getByTestId("sign-in-id").fill(id);
  await page.getByTestId("sign-in-name").fill(name);
  if (asHost) await page.getByTestId("sign-in-host").check();
  await page.getByTestId("sign-in-submit").click();
  await page.getByTestId("signed-in-as").filter({ hasText: name }).waitFor();
}
