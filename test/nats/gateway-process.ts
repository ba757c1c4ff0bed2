import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";

/**
 * A gateway as its own process (dist/gateway/index.js, as production and scripts/supervisor.ts run
 * it), so a test can SIGKILL it with viewers attached: no goodbye on any socket, its NATS
 * connection and its upstream sockets simply gone.
 */
const ROOT = path.resolve(import.meta.dirname, "../..");

/** dist/ is what the process runs: rebuilt when any source is newer (as test/reliability does). */
export function ensureBuilt(): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) t = Math.max(t, newest(p));
      else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
    }
    return t;
  };
  let built = 0;
  try {
    built = statSync(path.join(ROOT, "dist/gateway/index.js")).mtimeMs;
  } catch {
    built = 0;
  }
  const source = Math.max(...["gateway", "platform", "subgraphs", "scripts"].map((d) => newest(path.join(ROOT, d))));
  if (source <= built) return;
  try {
    execFileSync(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", ROOT], { stdio: "pipe" });
  } catch (e) {
    // tsc still emits on type errors elsewhere; `npx tsc --noEmit` is the type gate, not this suite.
    console.warn(`[nats] tsc reported errors while rebuilding dist/: ${String((e as { stdout?: Buffer }).stdout ?? e).slice(0, 500)}`);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface GatewayProcess {
  url: string;
  child: ChildProcess;
  /** SIGKILL, like a crash or an OOM kill. */
  kill(): Promise<void>;
}

export async function startGatewayProcess(env: Record<string, string>, timeoutMs = 120_000): Promise<GatewayProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ["--enable-source-maps", path.join(ROOT, "dist/gateway/index.js")], {
    cwd: ROOT,
    // No database: the partner endpoint stays off (503) and nothing migrates.
    env: { ...process.env, DATABASE_URL: "", LOG_LEVEL: "silent", GATEWAY_PORT: String(port), ...env },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}/graphql`;
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gateway process exited with ${child.exitCode}`);
    const ok = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > until) {
      child.kill("SIGKILL");
      throw new Error("gateway process did not become healthy");
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    child,
    kill: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGKILL");
      }),
  };
}
