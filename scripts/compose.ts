import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";
import { SUBGRAPHS } from "./subgraphs.js";

export interface ComposedSchemas {
  supergraph: string;
  /** API schema (what clients see). */
  apiSchema: string;
  subgraphs: Record<string, string>;
}

/** Default URLs baked into the committed supergraph; the gateway overrides them from its environment. */
export const DEFAULT_URLS: Record<string, string> = {
  wallet: "http://127.0.0.1:4001/graphql",
  catalog: "http://127.0.0.1:4002/graphql",
  earnings: "http://127.0.0.1:4003/graphql",
};

export async function composeSupergraph(): Promise<ComposedSchemas> {
  const subgraphs: Record<string, string> = {};
  for (const [name, def] of Object.entries(SUBGRAPHS)) subgraphs[name] = (await def.schema()).sdl;
  const result = composeServices(
    Object.entries(subgraphs).map(([name, sdl]) => ({ name, typeDefs: parse(sdl), url: DEFAULT_URLS[name] })),
  );
  if (result.errors) throw new Error(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join("\n")}`);
  const { printSchema } = await import("graphql");
  return { supergraph: result.supergraphSdl, apiSchema: printSchema(result.schema.toAPISchema().toGraphQLJSSchema()), subgraphs };
}

/** The files schema:compose writes, relative to the repository root. */
export function schemaFiles(composed: ComposedSchemas): Record<string, string> {
  const files: Record<string, string> = {
    "schema/supergraph.graphql": composed.supergraph,
    "schema/api.graphql": composed.apiSchema,
    ...Object.fromEntries(Object.entries(composed.subgraphs).map(([n, sdl]) => [`schema/subgraphs/${n}.graphql`, sdl])),
  };
  for (const k of Object.keys(files)) if (!files[k].endsWith("\n")) files[k] += "\n";
  return files;
}

/** Paths under `root` whose committed content differs from `files` (missing counts as different). */
export function staleSchemaFiles(root: string, files: Record<string, string>): string[] {
  return Object.entries(files)
    .filter(([rel, text]) => {
      const file = path.join(root, rel);
      return !existsSync(file) || readFileSync(file, "utf8") !== text;
    })
    .map(([rel]) => rel);
}
