import "reflect-metadata";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { composeSupergraph, schemaFiles, staleSchemaFiles } from "./compose.js";
import { CHANGELOG_FILE, checkBreakingChanges, formatGate, gatedFiles, gitBaseline } from "./contracts-check.js";
import { loadScriptSettings } from "./config.js";

/**
 * `npm run schema:compose` writes schema/ from the code; `--check` fails when the
 * committed files differ from what the code composes (CI runs it).
 */
const root = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const composed = await composeSupergraph().catch((e: unknown) => {
  // Composition and contract failures (e.g. an undocumented partner field) are for the engineer, not a stack trace.
  if (!(e instanceof Error) || !/composition failed|^contract /.test(e.message)) throw e;
  console.error(`schema:compose failed: ${e.message}`);
  process.exit(1);
});
const files = schemaFiles(composed);
const gated = gatedFiles(Object.keys(composed.contracts));
const readIfExists = (rel: string) => (existsSync(path.join(root, rel)) ? readFileSync(path.join(root, rel), "utf8") : null);

/**
 * Breaking-change gate (scripts/contracts-check.ts): the API schema and every contract
 * against a baseline. --check uses the committed files at SCHEMA_BASE_REF (CI on a
 * branch: the target branch's merge-base), default HEAD (HEAD~1 under CI); compose compares with the files
 * it is about to overwrite and only warns, so the check is where it fails.
 */
async function gate(baselineOf: (rel: string) => string | null | undefined): Promise<boolean> {
  const variants: Record<string, { baseline: string | null; current: string }> = {};
  for (const [variant, rel] of Object.entries(gated)) {
    const baseline = baselineOf(rel);
    if (baseline === undefined) {
      console.warn(`schema:check: no git baseline available; breaking-change gate skipped`);
      return true;
    }
    variants[variant] = { baseline, current: files[rel] };
  }
  const result = await checkBreakingChanges(variants, readIfExists(CHANGELOG_FILE) ?? "");
  for (const [variant, list] of Object.entries(result.changes)) {
    for (const c of list) if (c.criticality.level === "DANGEROUS") console.log(`[${variant}] dangerous: ${c.message}`);
    const safe = list.filter((c) => c.criticality.level === "NON_BREAKING").length;
    if (safe) console.log(`[${variant}] ${safe} non-breaking change(s)`);
  }
  const report = formatGate(result);
  if (report) (result.ok ? console.log : console.error)(report);
  return result.ok;
}

if (process.argv.includes("--check")) {
  const stale = staleSchemaFiles(root, files);
  for (const rel of stale) console.error(`schema:check: ${rel} differs from what the code composes`);
  if (stale.length) {
    console.error(`schema:check failed: ${stale.length} file(s) out of date. Run \`npm run schema:compose\` and commit schema/.`);
    process.exit(1);
  }
  // Locally: uncommitted changes against HEAD. In CI (clean checkout): the commit under test against its parent.
  const ref = loadScriptSettings().schemaBaseRef;
  if (!(await gate((rel) => gitBaseline(root, ref, rel)))) {
    console.error(`schema:check failed: breaking change(s) against ${ref} (see above; record them in ${CHANGELOG_FILE}).`);
    process.exit(1);
  }
  console.log(`schema:check ok (${Object.keys(files).length} files match the code)`);
} else {
  if (!(await gate(readIfExists))) {
    console.error(`schema:compose: WARNING: unrecorded breaking change(s) above; schema:check will fail until ${CHANGELOG_FILE} records them.`);
  }
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), text);
    console.log(`wrote ${rel}`);
  }
}
