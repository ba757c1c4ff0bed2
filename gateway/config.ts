import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../platform/config.js";

export type SubgraphName = "wallet" | "catalog" | "earnings";
export type SubgraphUrls = Record<SubgraphName, string>;

/** schema/ sits at the repository root both from source (gateway/) and from dist/gateway/. */
export function schemaDir(): string {
  const here = fileURLToPath(new URL(".", import.meta.url));
  return here.includes("/dist/") ? fileURLToPath(new URL("../../schema/", import.meta.url)) : fileURLToPath(new URL("../schema/", import.meta.url));
}

export function readSupergraph(): string {
  return readFileSync(`${schemaDir()}supergraph.graphql`, "utf8");
}

/** Subgraph URLs from the environment (WALLET_URL, ...), defaulting to the development ports. */
export function subgraphUrlsFromEnv(env: NodeJS.ProcessEnv = process.env): SubgraphUrls {
  const { ports } = loadConfig(env);
  return {
    wallet: env.WALLET_URL ?? `http://127.0.0.1:${ports.wallet}/graphql`,
    catalog: env.CATALOG_URL ?? `http://127.0.0.1:${ports.catalog}/graphql`,
    earnings: env.EARNINGS_URL ?? `http://127.0.0.1:${ports.earnings}/graphql`,
  };
}
