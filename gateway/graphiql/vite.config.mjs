import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// Bundles the development GraphiQL into dist/graphiql/ (served by gateway/ide.ts under /graphiql/).
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/graphiql/",
  logLevel: "error",
  build: {
    outDir: fileURLToPath(new URL("../../dist/graphiql/", import.meta.url)),
    emptyOutDir: true,
    chunkSizeWarningLimit: 10_000,
  },
});
