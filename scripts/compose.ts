import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { SUBGRAPHS } from "./subgraphs.js";
import { composeFromSdls, type ComposedSchemas } from "./contracts-compose.js";

export { composeFromSdls, DEFAULT_URLS, type ComposedSchemas } from "./contracts-compose.js";

export async function composeSupergraph(): Promise<ComposedSchemas> {
  const subgraphs: Record<string, string> = {};
  for (const [name, def] of Object.entries(SUBGRAPHS)) subgraphs[name] = (await def.schema()).sdl;
  return composeFromSdls(subgraphs);
}

/** The files schema:compose writes, relative to the repository root. */
export function schemaFiles(composed: ComposedSchemas): Record<string, string> {
  const files: Record<string, string> = {
    "schema/supergraph.graphql": composed.supergraph,
    "schema/api.graphql": composed.apiSchema,
    ...Object.fromEntries(Object.entries(composed.subgraphs).map(([n, sdl]) => [`schema/subgraphs/${n}.graphql`, sdl])),
    ...Object.fromEntries(
      Object.values(composed.contracts ?? {}).flatMap((c) => [
        [`schema/contracts/${c.spec.name}.graphql`, c.apiSchema],
        [`schema/contracts/${c.spec.name}.supergraph.graphql`, c.supergraph],
        [`schema/contracts/${c.spec.name}.md`, c.markdown],
      ]),
    ),
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
