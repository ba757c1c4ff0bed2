import { inheritedEnv } from "./config.js";
import "reflect-metadata";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { parseArgs } from "node:util";
import { mintToken } from "../platform/auth.js";
import { isEntryPoint } from "../platform/main.js";
import { freePort } from "../scripts/embedded-pg.js";
import { ROOT } from "../scripts/supervisor.js";
import { readManifest } from "../gateway/persisted-operations.js";
import { load } from "./lib/load.js";
import { round } from "./lib/stats.js";

/**
 * The gateway's own CPU per request, nothing else: the gateway of a build (`--root`, default this
 * repository) as a production process in front of a stub that answers every subgraph fetch at once
 * with a canned answer (no database, no subgraph work), under a closed loop from this process.
 * CPU comes from /proc. A shared machine inflates CPU per request when it is busy (cold caches,
 * preemption), so it runs `--rounds` short trials and reports the minimum and the median; compare
 * two builds by alternating them (docs/benchmarks.md "2026-12-02: lean path").
 *
 *   node dist/bench/gateway-cpu.js --scenario send|gifts [--root DIR] [--rounds 6] [--sec 8] [--env K=V ...]
 *
 * `send`: the bench's sendGift mutation with 200 signed-in senders (rate limits raised); `gifts`:
 * the anonymous `gifts(region)` read of scenario 1 (identical concurrent reads: pass
 * `--env PUBLIC_FETCH_MERGE=off` to measure the path without merging); `app-send` / `app-send-id`:
 * the web app's SendGift from the persisted-operation manifest, as its text / as its id alone.
 */
const SEND = `mutation Send($i: SendGiftInput!) { sendGift(input: $i) { giftEvent { id sentAt senderBalanceAfter } userErrors { code message } } }`;
const GIFTS = `query Gifts { gifts(region: "US") { id name coinCost imageUrl animationUrl streakable category } }`;

const cannedGifts = Array.from({ length: 12 }, (_, i) => ({
  id: randomUUID(),
  name: `Gift ${i}`,
  coinCost: i + 1,
  imageUrl: `https://cdn.example.com/g${i}.svg`,
  animationUrl: null,
  streakable: i % 2 === 0,
  category: "classic",
}));

async function startStub(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    if (req.url !== "/graphql") {
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"status":"ok"}');
      return;
    }
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const { query } = JSON.parse(body) as { query: string };
      const data = query.includes("sendGift")
        ? { sendGift: { giftEvent: { __typename: "GiftEvent", id: randomUUID(), sentAt: "2026-12-02T00:00:00.000Z", coins: 1, quantity: 1, senderBalanceAfter: 100 }, userErrors: [], __typename: "SendGiftPayload" } }
        : query.includes("gifts")
          ? { gifts: cannedGifts }
          : {};
      const text = JSON.stringify({ data });
      res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store" });
      res.end(text);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, 100 Hz ticks
}

export interface TrialResult {
  okPerSec: number;
  errors: number;
  gatewayCpuMsPerRequest: number;
  loadAverage: number[];
}

type Scenario = "send" | "gifts" | "app-send" | "app-send-id";

export async function trial(opts: { root: string; scenario: Scenario; sec: number; env: Record<string, string> }): Promise<TrialResult> {
  const stub = await startStub();
  const port = await freePort();
  const secret = randomBytes(32).toString("base64url");
  const child: ChildProcess = spawn(process.execPath, [path.join(opts.root, "dist", "gateway", "index.js")], {
    env: {
      ...inheritedEnv(),
      NODE_ENV: "production",
      JWT_SECRET: secret,
      SERVICE_SECRET: randomBytes(32).toString("base64url"),
      PAYMENT_WEBHOOK_SECRET: `whsec_gwcpu_${randomBytes(8).toString("hex")}`,
      LOG_LEVEL: "info",
      GATEWAY_PORT: String(port),
      WALLET_URL: stub.url,
      CATALOG_URL: stub.url,
      EARNINGS_URL: stub.url,
      MIGRATE: "false",
      DATABASE_URL: "",
      MONEY_RATE_LIMITS: "sendGift=1000000:100000000",
      ...opts.env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  try {
    const url = `http://127.0.0.1:${port}/graphql`;
    for (let i = 0; ; i++) {
      const up = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (i > 300) throw new Error("the gateway did not start");
      await new Promise((r) => setTimeout(r, 100));
    }
    const tokens = await Promise.all(Array.from({ length: 200 }, (_, i) => mintToken({ sub: `gwcpu-${i}`, roles: ["viewer"] }, { secret, expiresIn: "1h" })));
    let n = 0;
    const input = () => ({ giftId: cannedGifts[0].id, hostId: "h1", quantity: 1, expectedUnitCost: 1, idempotencyKey: randomUUID() });
    const app = readManifest().operations.find((o) => o.name === "SendGift")!;
    const request =
      opts.scenario === "send"
        ? () => ({ body: JSON.stringify({ query: SEND, variables: { i: input() } }), headers: { authorization: `Bearer ${tokens[n++ % tokens.length]}` } })
        : opts.scenario === "app-send"
          ? () => ({ body: JSON.stringify({ query: app.body, variables: { input: input() } }), headers: { authorization: `Bearer ${tokens[n++ % tokens.length]}` } })
          : opts.scenario === "app-send-id"
            ? () => ({ body: JSON.stringify({ extensions: { persistedQuery: { version: 1, sha256Hash: app.id } }, variables: { input: input() } }), headers: { authorization: `Bearer ${tokens[n++ % tokens.length]}` } })
            : () => ({ body: JSON.stringify({ query: GIFTS }) });
    const check = (body: string) => (body.includes('"errors"') ? body.slice(0, 120) : null);
    await load({ url, connections: 16, durationSec: 4, request, check });
    const before = cpuMs(child.pid!);
    const r = await load({ url, connections: 16, durationSec: opts.sec, request, check });
    const used = cpuMs(child.pid!) - before;
    return { okPerSec: r.okPerSec, errors: r.errors, gatewayCpuMsPerRequest: round(used / Math.max(1, r.ok), 4), loadAverage: readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(Number) };
  } finally {
    child.kill("SIGTERM");
    stub.close();
  }
}

if (isEntryPoint(import.meta.url)) {
  const { values } = parseArgs({
    options: {
      scenario: { type: "string", default: "send" },
      root: { type: "string", default: ROOT },
      rounds: { type: "string", default: "6" },
      sec: { type: "string", default: "8" },
      env: { type: "string", multiple: true, default: [] },
    },
  });
  const env = Object.fromEntries((values.env ?? []).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  const scenario = (["send", "gifts", "app-send", "app-send-id"].includes(values.scenario!) ? values.scenario : "send") as Scenario;
  const results: TrialResult[] = [];
  for (let i = 0; i < Number(values.rounds); i++) {
    const r = await trial({ root: path.resolve(values.root!), scenario, sec: Number(values.sec), env });
    results.push(r);
    console.log(JSON.stringify({ root: values.root, scenario, env, ...r }));
  }
  const cpu = results.map((r) => r.gatewayCpuMsPerRequest).sort((a, b) => a - b);
  console.log(JSON.stringify({ summary: true, root: values.root, scenario, env, rounds: cpu.length, minCpuMsPerRequest: cpu[0], medianCpuMsPerRequest: cpu[Math.floor(cpu.length / 2)], bestOkPerSec: Math.max(...results.map((r) => r.okPerSec)) }));
  process.exit(0);
}
