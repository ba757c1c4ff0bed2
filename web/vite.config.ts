import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

// The web app: React + Apollo Client + graphql-ws, bundled by Vite into dist/web-app and served
// from its own origin by web/server.ts. JSX uses Vite's built-in transform (automatic runtime).
const root = fileURLToPath(new URL(".", import.meta.url));

export default defineConfig({
  root,
  base: "/",
  publicDir: false,
  oxc: { jsx: { runtime: "automatic" } },
  build: {
    outDir: fileURLToPath(new URL("../dist/web-app", import.meta.url)),
    emptyOutDir: true,
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
});
