import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** The source folders (tests may set and read the environment as they like). */
const SOURCE_DIRS = ["gateway", "platform", "subgraphs", "web", "scripts", "bench"];
const SKIP_DIRS = new Set(["node_modules", "dist", "results", ".data"]);

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (!SKIP_DIRS.has(entry.name)) out.push(...sourceFiles(rel));
    } else if (/\.(ts|tsx|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith(".d.ts")) {
      out.push(rel);
    }
  }
  return out;
}

/** Source text without comments (a comment may name process.env; only code may not read it). Strings are kept. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

/** Where each line of `text` matching `pattern` is, as `file:line`. */
function hits(file: string, text: string, pattern: RegExp): string[] {
  return code(text)
    .split("\n")
    .flatMap((line, i) => (pattern.test(line) ? [`${file}:${i + 1}: ${line.trim().slice(0, 120)}`] : []));
}

/**
 * The config modules: the platform's (shared settings), each subgraph's, the gateway's, and one
 * each for scripts/ and bench/ (the web server reads platform/config.ts). Build tools' own config
 * files (vite.config.ts) are theirs.
 */
const CONFIG_MODULE = /^(platform\/config\.ts|subgraphs\/[a-z-]+\/config\.ts|gateway\/config\.ts|web\/config\.ts|scripts\/config\.ts|bench\/config\.ts|.*\/vite\.config\.(ts|mjs))$/;
const READS_ENV = /\bprocess\s*(\.\s*env\b|\[\s*["'`]env["'`]\s*\])|\benv\s*\}\s*=\s*process\b/;

describe("source rules", () => {
  const files = SOURCE_DIRS.flatMap(sourceFiles);

  it("reads process.env only in the config modules (each setting is read and validated once, in one place)", () => {
    expect(files.length).toBeGreaterThan(100);
    const outside = files.filter((f) => !CONFIG_MODULE.test(f)).flatMap((f) => hits(f, readFileSync(path.join(ROOT, f), "utf8"), READS_ENV));
    expect(outside, "read the setting in a config module and pass it in").toEqual([]);
    // The rule has teeth: the config modules do read it.
    expect(hits("platform/config.ts", readFileSync(path.join(ROOT, "platform/config.ts"), "utf8"), READS_ENV).length).toBeGreaterThan(0);
  });

  it("domain code throws domain errors only: nothing under subgraphs/*/domain imports graphql", () => {
    const domain = files.filter((f) => /^subgraphs\/[a-z-]+\/domain\//.test(f));
    expect(domain.length).toBeGreaterThan(20);
    const graphql = domain.flatMap((f) => hits(f, readFileSync(path.join(ROOT, f), "utf8"), /from\s+["']graphql["']|\bGraphQLError\b/));
    expect(graphql, "throw DomainError, badInput() (InputError) or UnavailableError from platform/errors.ts").toEqual([]);
  });
});
