import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  resolve: {
    // One copy of graphql: the CommonJS entry that Apollo loads too, otherwise
    // "Cannot use GraphQLSchema from another module or realm".
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["test/**/*.test.ts", "platform/**/*.test.ts", "subgraphs/**/*.test.ts", "gateway/**/*.test.ts"],
    // Browser tests need Chromium (a system package): `npm run test:web` (vitest.web.config.ts).
    // Suites that need a NATS server run under `npm run test:nats` (vitest.nats.config.ts).
    exclude: ["test/web/**", "test/nats/**", "**/node_modules/**"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Under CI also write a JSON report: .ci/run prints "N passed, N failed" from it.
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    outputFile: { json: ".data/test-report.json" },
    server: { deps: { inline: [] } },
  },
});
