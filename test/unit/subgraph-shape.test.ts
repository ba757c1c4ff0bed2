import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/** docs/CONVENTIONS.md "Subgraph shape", checked on the source tree (no database, no build). */
const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const SUBGRAPHS = ["wallet", "catalog", "earnings"];
const TOP_LEVEL_FILES = ["config.ts", "index.ts", "services.ts"];
const FOLDERS = ["db", "domain", "schema", "transport"];

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
    const rel = path.posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(rel));
    else if (entry.name.endsWith(".ts")) out.push(rel);
  }
  return out;
}

const read = (rel: string) => readFileSync(path.join(ROOT, rel), "utf8");
/** Source text without comments. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");

describe("every subgraph has the same shape", () => {
  it.each(SUBGRAPHS)("%s: index.ts, config.ts, services.ts and db/, domain/, schema/, transport/ — nothing else at the top", (name) => {
    const dir = path.join(ROOT, "subgraphs", name);
    const entries = readdirSync(dir);
    expect(entries.filter((e) => e.endsWith(".ts")).sort()).toEqual(TOP_LEVEL_FILES);
    expect(entries.filter((e) => statSync(path.join(dir, e)).isDirectory()).sort()).toEqual(FOLDERS);
    for (const f of ["db/index.ts", "schema/index.ts", "schema/context.ts"]) expect(existsSync(path.join(dir, f)), f).toBe(true);
  });

  it.each(SUBGRAPHS)("%s: db/index.ts lists every migration, in timestamp order", (name) => {
    const dir = `subgraphs/${name}/db`;
    const files = readdirSync(path.join(ROOT, dir, "migrations")).filter((f) => f.endsWith(".ts"));
    const list = /export const migrations = \[([^\]]*)\]/.exec(read(`${dir}/index.ts`))?.[1] ?? "";
    const listed = [...list.matchAll(/[A-Za-z]+(\d{13})/g)].map((m) => Number(m[1]));
    expect(listed.length).toBe(files.length);
    expect(listed).toEqual([...listed].sort((a, b) => a - b));
    expect(listed).toEqual(files.map((f) => Number(f.slice(0, 13))).sort((a, b) => a - b));
  });
});

describe("schema modules", () => {
  const schemaFiles = SUBGRAPHS.flatMap((name) => tsFiles(`subgraphs/${name}/schema`));

  it("build DataLoaders in the request context, never in a module-level cache", () => {
    const moduleCaches = schemaFiles.filter((f) => /^(const|let)\s+\w+\s*=\s*new (WeakMap|Map)\b/m.test(code(read(f))));
    expect(moduleCaches, "add the loader to <Name>Context.loaders and build it in index.ts `context`").toEqual([]);
  });

  it("map domain errors to payloads with platform/errors.ts withUserErrors only", () => {
    const ownMapping = schemaFiles.filter((f) => /instanceof\s+(DomainError|ValidationFailed)\)\s*return\s*\{\s*userErrors/.test(code(read(f))));
    expect(ownMapping).toEqual([]);
  });
});

it("subgraphs/ has no runtime import cycle (type-only imports aside)", () => {
  const files = tsFiles("subgraphs");
  const deps = new Map<string, string[]>();
  for (const f of files) {
    const targets: string[] = [];
    for (const m of code(read(f)).matchAll(/^(?:import|export)\s+(?!type\b)(?:[^"']*?from\s+)?["'](\.[^"']+)["']/gm)) {
      const target = path.posix.normalize(path.posix.join(path.posix.dirname(f), m[1])).replace(/\.js$/, ".ts");
      if (target.startsWith("subgraphs/")) targets.push(target);
    }
    deps.set(f, targets);
  }
  const cycles: string[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (f: string) => {
    state.set(f, "open");
    stack.push(f);
    for (const d of deps.get(f) ?? []) {
      if (state.get(d) === "open") cycles.push([...stack.slice(stack.indexOf(d)), d].join(" → "));
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(f, "done");
  };
  for (const f of files) if (!state.has(f)) visit(f);
  expect(cycles).toEqual([]);
});
