import "reflect-metadata";
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { composeSupergraph, schemaFiles, staleSchemaFiles } from "./compose.js";

/**
 * `npm run schema:compose` writes schema/ from the code; `--check` fails when the
 * committed files differ from what the code composes (CI runs it).
 */
const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const files = schemaFiles(await composeSupergraph());

if (process.argv.includes("--check")) {
  const stale = staleSchemaFiles(root, files);
  for (const rel of stale) console.error(`schema:check: ${rel} differs from what the code composes`);
  if (stale.length) {
    console.error(`schema:check failed: ${stale.length} file(s) out of date. Run \`npm run schema:compose\` and commit schema/.`);
    process.exit(1);
  }
  console.log(`schema:check ok (${Object.keys(files).length} files match the code)`);
} else {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
    console.log(`wrote ${rel}`);
  }
}
