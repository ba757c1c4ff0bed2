import "reflect-metadata";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { committedSubgraphSdls } from "./support.js";
import { composeFromSdls, type ComposedSchemas } from "../../scripts/contracts-compose.js";
import { checkBreakingChanges, gitBaseline, parseChangelog } from "../../scripts/contracts-check.js";

/**
 * The breaking-change gate run as functions (what `npm run schema:check` runs after
 * the freshness check): baseline = the composed schema as committed, current = the
 * schema after an edit to one subgraph's SDL.
 */
const repo = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
let base: ComposedSchemas;
beforeAll(async () => {
  base = composeFromSdls(committedSubgraphSdls());
});

function edit(subgraph: string, fn: (sdl: string) => string): ComposedSchemas {
  const sdl = base.subgraphs[subgraph];
  const next = fn(sdl);
  expect(next, "the edit must change the SDL").not.toBe(sdl);
  return composeFromSdls({ ...base.subgraphs, [subgraph]: next });
}

/** Adds a field to the catalog's Gift type (partner-tagged type, so it reaches the contract). */
const addGiftField = (field: string) => (sdl: string) => sdl.replace(/(type Gift [^{]*\{)/, `$1\n  """Added by a test."""\n  ${field}\n`);

function gate(before: ComposedSchemas, after: ComposedSchemas, changelog = "") {
  return checkBreakingChanges(
    {
      api: { baseline: before.apiSchema, current: after.apiSchema },
      partner: { baseline: before.contracts.partner.apiSchema, current: after.contracts.partner.apiSchema },
    },
    changelog,
  );
}

describe("schema:check breaking-change gate", () => {
  it("passes when nothing changed", async () => {
    const result = await gate(base, base);
    expect(result.ok).toBe(true);
    expect(result.findings).toEqual([]);
  });

  it("passes when an optional field is added to a contract type", async () => {
    const after = edit("catalog", addGiftField("partnerNote: String"));
    expect(after.contracts.partner.apiSchema).toContain("partnerNote: String");
    const result = await gate(base, after);
    expect(result.ok).toBe(true);
    expect(result.changes.partner.map((c) => c.type)).toContain("FIELD_ADDED");
  });

  it("fails when a contract field is removed (untagged) without deprecation, even when the changelog records it", async () => {
    const after = edit("catalog", (sdl) => sdl.replace(/(\n\s*gift\([\s\S]*?\): Gift) @tag\(name: "partner"\)/, "$1"));
    expect(after.contracts.partner.apiSchema).not.toMatch(/^\s+gift\(/m);
    const unrecorded = await gate(base, after);
    expect(unrecorded.ok).toBe(false);
    const finding = unrecorded.findings.find((f) => f.variant === "partner" && f.change.path === "Query.gift");
    expect(finding?.change.type).toBe("FIELD_REMOVED");
    expect(finding?.problem).toMatch(/deprecat/);
    // The full API still has it: only the contract broke.
    expect(unrecorded.findings.filter((f) => f.variant === "api")).toEqual([]);
    const recorded = await gate(base, after, "- partner FIELD_REMOVED Query.gift: partners must use gifts(ids) from now on");
    expect(recorded.ok).toBe(false);
  });

  it("allows removing a field that the baseline deprecated, once the changelog records it with a reason", async () => {
    // Release 1: deprecate (non-breaking). Release 2: remove.
    const deprecated = edit("catalog", (sdl) => sdl.replace(/(\n\s*sortOrder: Int!)(\n)/, `$1 @deprecated(reason: "Use the order of gifts().")$2`));
    expect((await gate(base, deprecated)).ok).toBe(true);
    const removed = composeFromSdls({ ...deprecated.subgraphs, catalog: deprecated.subgraphs.catalog.replace(/\n\s*"""Display order in the picker, ascending\."""\n\s*sortOrder: Int! @deprecated\(reason: "Use the order of gifts\(\)\."\)/, "") });
    expect(removed.contracts.partner.apiSchema).not.toMatch(/Display order in the picker/);

    const unrecorded = await gate(deprecated, removed);
    expect(unrecorded.ok).toBe(false);
    expect(unrecorded.findings.map((f) => f.problem).join("\n")).toContain("- partner FIELD_REMOVED Gift.sortOrder: <why");

    const changelog = [
      "- api FIELD_REMOVED Gift.sortOrder: deprecated since 2026-10-01; gifts() returns display order",
      "- `partner` FIELD_REMOVED `Gift.sortOrder`: deprecated since 2026-10-01; gifts() returns display order",
    ].join("\n");
    const recorded = await gate(deprecated, removed, changelog);
    expect(recorded.findings.map((f) => f.problem)).toEqual([null, null]);
    expect(recorded.ok).toBe(true);
  });

  it("refuses a changelog entry without a real reason", async () => {
    const deprecated = edit("catalog", (sdl) => sdl.replace(/(\n\s*sortOrder: Int!)(\n)/, `$1 @deprecated(reason: "Unused.")$2`));
    const removed = composeFromSdls({ ...deprecated.subgraphs, catalog: deprecated.subgraphs.catalog.replace(/\n\s*"""Display order in the picker, ascending\."""\n\s*sortOrder: Int! @deprecated\(reason: "Unused\."\)/, "") });
    const result = await gate(deprecated, removed, "- api FIELD_REMOVED Gift.sortOrder: ok\n- partner FIELD_REMOVED Gift.sortOrder: <why this is safe>");
    expect(result.ok).toBe(false);
  });

  it("fails when a required argument is added to a contract field", async () => {
    const after = edit("catalog", (sdl) => sdl.replace(/(\n\s*gift\()/, `$1\n    """Required by a test."""\n    locale: String!\n`));
    const result = await gate(base, after);
    expect(result.ok).toBe(false);
    expect(result.findings.some((f) => f.variant === "partner" && f.change.type === "FIELD_ARGUMENT_ADDED")).toBe(true);
  });

  it("fails when a contract field changes type", async () => {
    const after = edit("catalog", (sdl) => sdl.replace(/(\n\s*coinCost: )Int!/, "$1String!"));
    const result = await gate(base, after);
    expect(result.ok).toBe(false);
    expect(result.findings.map((f) => `${f.variant} ${f.change.type} ${f.change.path}`)).toEqual(
      expect.arrayContaining(["partner FIELD_TYPE_CHANGED Gift.coinCost", "api FIELD_TYPE_CHANGED Gift.coinCost"]),
    );
  });

  it("treats a new contract (no baseline) as nothing to break", async () => {
    const result = await checkBreakingChanges({ partner: { baseline: null, current: base.contracts.partner.apiSchema } }, "");
    expect(result.ok).toBe(true);
  });

  it("reads changelog lines with or without backticks and ignores prose", () => {
    expect(parseChangelog("# Title\nsome prose: here\n- partner FIELD_REMOVED Gift.x: because\n* `api` `TYPE_REMOVED` `Old`: gone for good")).toEqual([
      { variant: "partner", type: "FIELD_REMOVED", path: "Gift.x", reason: "because" },
      { variant: "api", type: "TYPE_REMOVED", path: "Old", reason: "gone for good" },
    ]);
  });

  it("takes the baseline from git: a committed file at HEAD, null for a file git never had", () => {
    expect(gitBaseline(repo, "HEAD", "schema/api.graphql")).toMatch(/type Query/);
    expect(gitBaseline(repo, "HEAD", "schema/contracts/never-existed.graphql")).toBeNull();
    expect(gitBaseline(repo, "no-such-ref-xyz", "schema/api.graphql")).toBeUndefined();
  });
});
