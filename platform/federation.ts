import { buildSubgraphSchema } from "@apollo/subgraph";
import { printSchemaWithDirectives } from "@graphql-tools/utils";
import { isUnionType, parse, type GraphQLFieldResolver, type GraphQLSchema } from "graphql";
import { buildSchema, createResolversMap, type BuildSchemaOptions } from "type-graphql";
import { badInput } from "./errors.js";

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
  refuseNonEntityRepresentations(federated);
  return { schema: federated, sdl };
}

/**
 * `_entities` with a representation whose `__typename` is not one of this subgraph's entities
 * (unknown, a plain object type, a scalar) is the caller's mistake: BAD_USER_INPUT naming it,
 * checked before any reference resolver runs. @apollo/subgraph throws a plain Error (or fails
 * resolving the `_Entity` union), which the error mask turns into INTERNAL_SERVER_ERROR.
 */
export function refuseNonEntityRepresentations(schema: GraphQLSchema): void {
  const field = schema.getQueryType()?.getFields()._entities;
  const union = schema.getType("_Entity");
  if (!field || !isUnionType(union)) return;
  const entities = new Set(union.getTypes().map((t) => t.name));
  const resolve = field.resolve as GraphQLFieldResolver<unknown, unknown, { representations: unknown[] }>;
  field.resolve = (source, args, context, info) => {
    args.representations.forEach((r: unknown, i: number) => {
      const typename = r && typeof r === "object" ? (r as { __typename?: unknown }).__typename : undefined;
      if (typeof typename !== "string" || !entities.has(typename)) {
        const shown = typeof typename === "string" ? `"${typename.slice(0, 64)}"` : "missing";
        throw badInput(`representations[${i}].__typename ${shown} is not an entity of this subgraph`, ["representations", String(i), "__typename"]);
      }
    });
    return resolve(source, args, context, info);
  };
}
