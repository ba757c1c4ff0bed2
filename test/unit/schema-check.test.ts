import "reflect-metadata";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { composeSupergraph, schemaFiles, staleSchemaFiles } from "../../scripts/compose.js";

const repo = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
let files: Record<string, string>;
beforeAll(async () => {
  files = schemaFiles(await composeSupergraph());
});

describe("schema:check", () => {
  it("passes on the committed schema/", () => {
    expect(staleSchemaFiles(repo, files)).toEqual([]);
  });

  it("fails when a committed file differs from what the code composes", () => {
    const tmp = mkdtempSync(path.join(os.tmpdir(), "schema-check-"));
    cpSync(path.join(repo, "schema"), path.join(tmp, "schema"), { recursive: true });
    const f = path.join(tmp, "schema/subgraphs/catalog.graphql");
    writeFileSync(f, readFileSync(f, "utf8").replace("coinCost: Int!", "coinCost: Float!"));
    expect(staleSchemaFiles(tmp, files)).toEqual(["schema/subgraphs/catalog.graphql"]);
  });

  it("composes a supergraph whose Gift, User and Creator are entities", () => {
    expect(files["schema/supergraph.graphql"]).toMatch(/type Gift[^{]*@join__type\(graph: CATALOG, key: "id"\)/);
    expect(files["schema/supergraph.graphql"]).toMatch(/type User[^{]*@join__type\(graph: WALLET, key: "id"\)/);
    expect(files["schema/supergraph.graphql"]).toMatch(/type Creator[^{]*@join__type\(graph: EARNINGS, key: "id"\)/);
  });
});
