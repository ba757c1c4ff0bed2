import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { freePort } from "../../scripts/embedded-pg.js";
import { ROOT } from "../support/dist.js";
import { until } from "../support/eventually.js";

export { ensureBuilt } from "../support/dist.js";

/**
 * A gateway as its own process (dist/gateway/index.js, as production and scripts/supervisor.ts run
 * it), so a test can SIGKILL it with viewers attached: no goodbye on any socket, its NATS
 * connection and its upstream sockets simply gone.
 */
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
  const healthy = () => fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false);
  await until(async () => child.exitCode !== null || (await healthy()), "the gateway process to become healthy", timeoutMs, 100).catch((e) => {
    child.kill("SIGKILL");
    throw e;
  });
  if (child.exitCode !== null) throw new Error(`gateway process exited with ${child.exitCode}`);
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
