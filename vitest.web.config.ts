import { createRequire } from "node:module";
import { defineConfig } from "vitest/config";

const require = createRequire(import.meta.url);

// `npm run test:web`: the browser tests (playwright-core driving the system Chromium against the
// built web app on its own origin). Kept out of `npm test`, which needs no system packages.
export default defineConfig({
  resolve: {
    alias: [{ find: /^graphql$/, replacement: require.resolve("graphql") }],
  },
  test: {
    include: ["test/web/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
    // One browser at a time: 2 cores.
    fileParallelism: false,
    reporters: process.env.CI ? ["default", "json"] : ["default"],
    outputFile: { json: ".data/test-web-report.json" },
    server: { deps: { inline: [] } },
  },
});
