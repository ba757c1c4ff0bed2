import { execFileSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

/** The repository root (dist/ is built there). */
export const ROOT = path.resolve(import.meta.dirname, "../..");

/** What a service process runs (scripts/supervisor.ts, a gateway process of a test). */
const ENTRIES = ["gateway/index.js", "subgraphs/earnings/index.js", "subgraphs/wallet/index.js", "subgraphs/catalog/index.js"];
const SOURCES = ["gateway", "platform", "subgraphs", "scripts"];

/**
 * dist/ is what service processes run: rebuilt when any source is newer than the oldest entry point
 * (npm test's pretest already builds, so this matters for targeted runs after an edit).
 */
export function ensureBuilt(label = "test"): void {
  const newest = (dir: string): number => {
    let t = 0;
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) t = Math.max(t, newest(p));
      else if (e.name.endsWith(".ts")) t = Math.max(t, statSync(p).mtimeMs);
    }
    return t;
  };
  let built = 0;
  try {
    built = Math.min(...ENTRIES.map((f) => statSync(path.join(ROOT, "dist", f)).mtimeMs));
  } catch {
    built = 0;
  }
  const source = Math.max(...SOURCES.map((d) => newest(path.join(ROOT, d))));
  if (source <= built) return;
  try {
    execFileSync(process.execPath, [path.join(ROOT, "node_modules/typescript/bin/tsc"), "-p", ROOT], { stdio: "pipe" });
  } catch (e) {
    // tsc still emits on type errors (someone's work in progress elsewhere); `npx tsc --noEmit` is the type gate, not this suite.
    console.warn(`[${label}] tsc reported errors while rebuilding dist/: ${String((e as { stdout?: Buffer }).stdout ?? e).slice(0, 500)}`);
  }
}
