import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadProcessSettings } from "./config.js";
import { logger } from "./logger.js";
import { shutdownTracing } from "./tracing.js";

/** True when `moduleUrl` is the file node was started with (not an import). */
export function isEntryPoint(moduleUrl: string): boolean {
  if (!process.argv[1]) return false;
  try {
    return realpathSync(fileURLToPath(moduleUrl)) === realpathSync(process.argv[1]);
  } catch {
    return false;
  }
}

/**
 * Runs a service as its own process: needs DATABASE_URL, stops gracefully on
 * SIGINT/SIGTERM (in-flight requests finish, subscriptions close with a reason).
 */
export function runMain(
  moduleUrl: string,
  name: string,
  start: (opts: { databaseUrl: string; migrate?: boolean }) => Promise<{ stop(): Promise<void>; url: string }>,
): void {
  if (!isEntryPoint(moduleUrl)) return;
  const { databaseUrl, migrate } = loadProcessSettings();
  if (!databaseUrl) {
    logger.fatal(`${name}: DATABASE_URL is required (npm start provides one)`);
    process.exit(2);
  }
  start({ databaseUrl, migrate })
    .then((server) => {
      logger.info({ service: name, url: server.url }, "ready");
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        logger.info({ service: name, signal }, "stopping");
        const force = setTimeout(() => process.exit(1), 10_000);
        force.unref();
        server.stop().then(shutdownTracing).then(
          () => process.exit(0),
          (err) => {
            logger.error({ err: String(err) }, "stop failed");
            process.exit(1);
          },
        );
      };
      process.on("SIGINT", () => shutdown("SIGINT"));
      process.on("SIGTERM", () => shutdown("SIGTERM"));
    })
    .catch((err) => {
      logger.fatal({ service: name, err: err instanceof Error ? err.stack : String(err) }, "failed to start");
      process.exit(1);
    });
}
