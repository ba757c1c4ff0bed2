// Bundles the development GraphiQL (gateway/graphiql/) into dist/graphiql/ with Vite, from npm
// packages only: the IDE then loads nothing from a CDN and works offline. Part of `npm run build`.
// Without the dev dependencies (a production install) there is nothing to build and no IDE to
// serve (production serves none), so it skips with a note instead of failing the build.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
try {
  require.resolve("graphiql/package.json");
  require.resolve("vite/package.json");
} catch {
  console.warn("build-ide: graphiql or vite not installed (production install?); the development IDE is not built");
  process.exit(0);
}
const { build } = await import("vite");
await build({ configFile: new URL("../gateway/graphiql/vite.config.mjs", import.meta.url).pathname });
console.error("build-ide: dist/graphiql/ written");
