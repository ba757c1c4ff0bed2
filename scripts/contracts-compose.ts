import { composeServices } from "@apollo/composition";
import { parse, printSchema } from "graphql";
import { buildContract, CONTRACTS, type ComposedContract } from "./contracts.js";

/**
 * Composition from SDL strings, without loading any subgraph code: schema:compose
 * (scripts/compose.ts) feeds it the SDL the code prints; the contract tests feed it
 * edited SDL.
 */
export interface ComposedSchemas {
  supergraph: string;
  /** API schema (what clients see). */
  apiSchema: string;
  subgraphs: Record<string, string>;
  /** Schema contracts (scripts/contracts.ts), by name. */
  contracts: Record<string, ComposedContract>;
}

/** Default URLs baked into the committed supergraph; the gateway overrides them from its environment. */
export const DEFAULT_URLS: Record<string, string> = {
  wallet: "http://127.0.0.1:4001/graphql",
  catalog: "http://127.0.0.1:4002/graphql",
  earnings: "http://127.0.0.1:4003/graphql",
};

/** Composes the subgraph SDLs into the supergraph, its API schema and every contract. */
export function composeFromSdls(subgraphs: Record<string, string>): ComposedSchemas {
  const result = composeServices(
    Object.entries(subgraphs).map(([name, sdl]) => ({ name, typeDefs: parse(sdl), url: DEFAULT_URLS[name] })),
  );
  if (result.errors) throw new Error(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join("\n")}`);
  const api = result.schema.toAPISchema().toGraphQLJSSchema();
  const contracts = Object.fromEntries(CONTRACTS.map((spec) => [spec.name, buildContract(subgraphs, api, spec, DEFAULT_URLS)]));
  return { supergraph: result.supergraphSdl, apiSchema: printSchema(api), subgraphs, contracts };
}
