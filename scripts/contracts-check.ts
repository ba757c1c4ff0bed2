import { execFileSync } from "node:child_process";
import { diff, CriticalityLevel, type Change } from "@graphql-inspector/core";
import {
  buildSchema,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  type GraphQLSchema,
} from "graphql";

/**
 * The breaking-change gate. Each checked schema ("variant": `api` is the public
 * supergraph API, plus one per contract) is diffed against its committed baseline
 * with @graphql-inspector/core. A BREAKING change passes only when
 *   1. schema/CHANGELOG.md records it (variant, change type, path) with a reason, and
 *   2. it is a removal of something the baseline already marked @deprecated
 *      (removals go through deprecation first); other breaking kinds only need (1).
 */

/** Committed files whose breaking changes are gated, by variant name. */
export function gatedFiles(contractNames: string[]): Record<string, string> {
  return {
    api: "schema/api.graphql",
    ...Object.fromEntries(contractNames.map((n) => [n, `schema/contracts/${n}.graphql`])),
  };
}

export const CHANGELOG_FILE = "schema/CHANGELOG.md";

export interface ChangelogEntry {
  variant: string;
  type: string;
  path: string;
  reason: string;
}

/**
 * Changelog lines look like
 *   - partner FIELD_REMOVED Gift.sortOrder: no partner used it (checked 30 days of traces)
 * (backticks around the parts are allowed). Anything else in the file is free text.
 */
export function parseChangelog(markdown: string): ChangelogEntry[] {
  const entries: ChangelogEntry[] = [];
  for (const line of markdown.split("\n")) {
    const m = /^\s*[-*]\s+`?([\w-]+)`?\s+`?([A-Z][A-Z_]+)`?\s+`?([\w.]+)`?\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    entries.push({ variant: m[1], type: m[2], path: m[3], reason: m[4].trim() });
  }
  return entries;
}

export interface GateFinding {
  variant: string;
  change: Change;
  /** Why this breaking change is refused; null when it is allowed. */
  problem: string | null;
}

export interface GateResult {
  ok: boolean;
  findings: GateFinding[];
  /** All changes, breaking or not, per variant (for the compose output). */
  changes: Record<string, Change[]>;
}

const REMOVALS = new Set(["FIELD_REMOVED", "ENUM_VALUE_REMOVED", "INPUT_FIELD_REMOVED", "FIELD_ARGUMENT_REMOVED"]);

/** Whether `path` (Type.field, Type.field.arg, Enum.VALUE, Input.field) is @deprecated in `schema`. */
export function isDeprecated(schema: GraphQLSchema, path: string): boolean {
  const [typeName, member, arg] = path.split(".");
  const type = schema.getType(typeName);
  if (!type || !member) return false;
  if (isEnumType(type)) return !!type.getValue(member)?.deprecationReason;
  if (isObjectType(type) || isInterfaceType(type)) {
    const field = type.getFields()[member];
    if (!field) return false;
    if (arg) return !!field.args.find((a) => a.name === arg)?.deprecationReason;
    return !!field.deprecationReason;
  }
  if (isInputObjectType(type)) return !!type.getFields()[member]?.deprecationReason;
  return false;
}

/** Suggested changelog line for a change. */
export function changelogLine(variant: string, change: Change): string {
  return `- ${variant} ${change.type} ${change.path ?? "?"}: <why this is safe for its users>`;
}

/**
 * Compares each variant's new SDL with its baseline. A variant without a baseline
 * (a new contract) has nothing to break.
 */
export async function checkBreakingChanges(
  variants: Record<string, { baseline: string | null; current: string }>,
  changelog: string,
): Promise<GateResult> {
  const entries = parseChangelog(changelog);
  const findings: GateFinding[] = [];
  const changes: Record<string, Change[]> = {};
  for (const [variant, { baseline, current }] of Object.entries(variants)) {
    if (baseline === null) continue;
    const before = buildSchema(baseline);
    const after = buildSchema(current);
    const list = await diff(before, after);
    changes[variant] = list;
    for (const change of list) {
      if (change.criticality.level !== CriticalityLevel.Breaking) continue;
      let problem: string | null = null;
      const recorded = entries.find((e) => e.variant === variant && e.type === change.type && e.path === change.path);
      if (REMOVALS.has(change.type) && change.path && !isDeprecated(before, change.path)) {
        problem = `removal without deprecation: mark ${change.path} @deprecated(reason: "...") first and remove it in a later release`;
      } else if (!recorded) {
        problem = `breaking change not recorded in ${CHANGELOG_FILE}; add the line\n    ${changelogLine(variant, change)}`;
      } else if (recorded.reason.length < 10 || recorded.reason.startsWith("<")) {
        problem = `${CHANGELOG_FILE} records ${change.path} without a real reason`;
      }
      findings.push({ variant, change, problem });
    }
  }
  return { ok: findings.every((f) => f.problem === null), findings, changes };
}

/** Human-readable report of a gate run. */
export function formatGate(result: GateResult): string {
  const lines: string[] = [];
  for (const f of result.findings) {
    const status = f.problem ? "REFUSED" : "recorded";
    lines.push(`[${f.variant}] ${status}: ${f.change.message}${f.problem ? `\n  -> ${f.problem}` : ""}`);
  }
  return lines.join("\n");
}

/**
 * The committed baseline of `file` at a git ref: the version partners and
 * clients are running against. Returns null when the file does not exist there;
 * undefined when git itself is unavailable (e.g. a Docker build without .git).
 */
export function gitBaseline(root: string, ref: string, file: string): string | null | undefined {
  try {
    execFileSync("git", ["rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { cwd: root, stdio: "pipe" });
  } catch {
    return undefined;
  }
  try {
    return execFileSync("git", ["show", `${ref}:${file}`], { cwd: root, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
  } catch {
    return null;
  }
}
