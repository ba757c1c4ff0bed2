import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repo = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));

/**
 * The subgraph SDLs under schema/subgraphs/ (what schema:compose last wrote; the
 * schema-check test keeps them equal to the code). Contract tests compose from these
 * so they exercise composition and the gate without building every resolver class.
 */
export function committedSubgraphSdls(): Record<string, string> {
  const dir = path.join(repo, "schema/subgraphs");
  return Object.fromEntries(
    readdirSync(dir)
      .filter((f) => f.endsWith(".graphql"))
      .sort()
      .map((f) => [f.replace(/\.graphql$/, ""), readFileSync(path.join(dir, f), "utf8")]),
  );
}
