import { defineConfig } from "vitest/config";
import base from "./vitest.config.js";

/**
 * `npm run test:nats`: the suites that need a NATS server with JetStream (NATS_URL, default
 * nats://127.0.0.1:4222). `npm test` excludes them and stays free of system services.
 */
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    include: ["test/nats/**/*.test.ts"],
    exclude: ["**/node_modules/**"],
    outputFile: { json: ".data/test-report-nats.json" },
  },
});
