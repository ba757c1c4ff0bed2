import { buildSubgraphSchema } from "@apollo/subgraph";
import { printSchemaWithDirectives } from "@graphql-tools/utils";
import { parse, type GraphQLSchema } from "graphql";
import { buildSchema, createResolversMap, type BuildSchemaOptions } from "type-graphql";

export const FEDERATION_LINK = `extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@external", "@requires", "@provides", "@tag", "@inaccessible", "@override"])`;

export interface FederatedSchema {
  schema: GraphQLSchema;
  /** The subgraph SDL (what composition reads). */
  sdl: string;
}

/**
 * type-graphql builds the types; @apollo/subgraph adds _entities/_service.
 * Reference resolvers (`__resolveReference`) live beside their types and are passed in here.
 */
export async function buildFederatedSchema(
  options: Omit<BuildSchemaOptions, "skipCheck">,
  referenceResolvers: Record<string, { __resolveReference: (ref: any, ctx: any, info: any) => unknown }> = {},
): Promise<FederatedSchema> {
  const schema = await buildSchema({ ...options, skipCheck: true });
  const sdl = `${FEDERATION_LINK}\n\n${printSchemaWithDirectives(schema)}`;
  const resolvers = createResolversMap(schema) as Record<string, Record<string, unknown>>;
  for (const [type, ref] of Object.entries(referenceResolvers)) resolvers[type] = { ...(resolvers[type] ?? {}), ...ref };
  const federated = buildSubgraphSchema({ typeDefs: parse(sdl), resolvers: resolvers as Parameters<typeof buildSubgraphSchema>[0] extends infer _ ? any : never });
  return { schema: federated, sdl };
}
