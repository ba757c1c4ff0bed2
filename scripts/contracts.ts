import { composeServices } from "@apollo/composition";
import {
  Kind,
  parse,
  print,
  printSchema,
  visit,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  isIntrospectionType,
  type ASTNode,
  type DirectiveNode,
  type GraphQLNamedType,
  type GraphQLSchema,
} from "graphql";

/**
 * Schema contracts (what Apollo GraphOS sells as "contracts"), built in the repo:
 * the supergraph filtered by @tag, recomposed so the contract variant itself plans
 * queries, then reduced to its API schema.
 *
 * Filtering rules (same as GraphOS, with "hide unreachable types" on):
 * - an element tagged with an excluded tag is out, whatever else it is tagged with;
 * - an object/interface field is in when it or its parent type carries an included tag;
 * - enum values, arguments and input fields are in unless excluded;
 * - enums, scalars, unions and input types are in when something included reaches them;
 * - a field whose type is out is out; a type with nothing left is out; required
 *   arguments/input fields that are out take their field/type with them;
 * - whatever the root operation types cannot reach is removed.
 * Everything that ends up out is marked @inaccessible in every subgraph SDL that
 * defines it, and the marked subgraphs are composed again.
 */
export interface ContractSpec {
  name: string;
  include: string[];
  exclude: string[];
  /** One line for the generated docs. */
  title: string;
}

export const CONTRACTS: ContractSpec[] = [
  { name: "partner", include: ["partner"], exclude: ["internal"], title: "Partner API" },
];

export interface ComposedContract {
  spec: ContractSpec;
  /** Supergraph of the contract variant (what the partner gateway loads). */
  supergraph: string;
  /** API schema partners see (printed SDL). */
  apiSchema: string;
  /** Generated Markdown reference. */
  markdown: string;
}

type Tags = Map<string, Set<string>>;

const ROOTS = ["Query", "Mutation", "Subscription"];

function tagNames(directives: readonly DirectiveNode[] | undefined): string[] {
  const out: string[] = [];
  for (const d of directives ?? []) {
    if (d.name.value !== "tag") continue;
    const arg = d.arguments?.find((a) => a.name.value === "name");
    if (arg && arg.value.kind === Kind.STRING) out.push(arg.value.value);
  }
  return out;
}

/** Tags per schema coordinate (`Type`, `Type.field`, `Type.field(arg:)`, `Enum.VALUE`, `Input.field`), union over subgraphs. */
export function collectTags(subgraphSdls: Record<string, string>): Tags {
  const tags: Tags = new Map();
  const add = (coord: string, names: string[]) => {
    if (!names.length) return;
    const set = tags.get(coord) ?? new Set<string>();
    for (const n of names) set.add(n);
    tags.set(coord, set);
  };
  for (const sdl of Object.values(subgraphSdls)) {
    for (const def of parse(sdl).definitions) {
      if (!("name" in def) || !def.name || def.kind === Kind.DIRECTIVE_DEFINITION) continue;
      const type = def.name.value;
      add(type, tagNames("directives" in def ? def.directives : undefined));
      if ("fields" in def && def.fields) {
        for (const f of def.fields) {
          add(`${type}.${f.name.value}`, tagNames(f.directives));
          if ("arguments" in f && f.arguments) for (const a of f.arguments) add(`${type}.${f.name.value}(${a.name.value}:)`, tagNames(a.directives));
        }
      }
      if ("values" in def && def.values) for (const v of def.values) add(`${type}.${v.name.value}`, tagNames(v.directives));
    }
  }
  return tags;
}

/**
 * Which coordinates of the full API schema the contract keeps. Returns the kept
 * coordinates (types, fields, arguments, enum values, input fields).
 */
export function contractCoordinates(api: GraphQLSchema, tags: Tags, spec: ContractSpec): Set<string> {
  const has = (coord: string, list: string[]) => list.some((t) => tags.get(coord)?.has(t));
  const excluded = (coord: string) => has(coord, spec.exclude);
  const included = (coord: string) => (spec.include.length === 0 ? true : has(coord, spec.include));
  const types = Object.values(api.getTypeMap()).filter((t) => !isIntrospectionType(t));

  // Candidates before reachability: what the tags allow.
  const keptTypes = new Set<string>(types.filter((t) => !excluded(t.name)).map((t) => t.name));
  const keptFields = new Set<string>();
  for (const t of types) {
    if (isObjectType(t) || isInterfaceType(t)) {
      for (const f of Object.values(t.getFields())) {
        const c = `${t.name}.${f.name}`;
        if (!excluded(c) && (included(c) || (!ROOTS.includes(t.name) && included(t.name)))) keptFields.add(c);
        for (const a of f.args) if (!excluded(`${c}(${a.name}:)`)) keptFields.add(`${c}(${a.name}:)`);
      }
    } else if (isInputObjectType(t)) {
      for (const f of Object.values(t.getFields())) if (!excluded(`${t.name}.${f.name}`)) keptFields.add(`${t.name}.${f.name}`);
    } else if (isEnumType(t)) {
      for (const v of t.getValues()) if (!excluded(`${t.name}.${v.name}`)) keptFields.add(`${t.name}.${v.name}`);
    }
  }

  // Fixpoint: drop what lost its type, types left empty, then what the roots cannot reach.
  for (let changed = true; changed; ) {
    changed = false;
    const drop = (set: Set<string>, key: string) => {
      if (set.delete(key)) changed = true;
    };
    for (const t of types) {
      if (!keptTypes.has(t.name)) continue;
      if (isObjectType(t) || isInterfaceType(t)) {
        for (const f of Object.values(t.getFields())) {
          const c = `${t.name}.${f.name}`;
          if (!keptFields.has(c)) continue;
          if (!keptTypes.has(getNamedType(f.type).name)) drop(keptFields, c);
          for (const a of f.args) {
            const ac = `${c}(${a.name}:)`;
            const argOk = keptFields.has(ac) && keptTypes.has(getNamedType(a.type).name);
            if (!argOk) {
              drop(keptFields, ac);
              if (isNonNullType(a.type) && a.defaultValue === undefined) drop(keptFields, c);
            }
          }
        }
        if (!Object.keys(t.getFields()).some((f) => keptFields.has(`${t.name}.${f}`))) drop(keptTypes, t.name);
      } else if (isInputObjectType(t)) {
        for (const f of Object.values(t.getFields())) {
          const c = `${t.name}.${f.name}`;
          if (keptFields.has(c) && !keptTypes.has(getNamedType(f.type).name)) drop(keptFields, c);
          if (!keptFields.has(c) && isNonNullType(f.type) && f.defaultValue === undefined) drop(keptTypes, t.name);
        }
        if (!Object.keys(t.getFields()).some((f) => keptFields.has(`${t.name}.${f}`))) drop(keptTypes, t.name);
      } else if (isEnumType(t)) {
        if (!t.getValues().some((v) => keptFields.has(`${t.name}.${v.name}`))) drop(keptTypes, t.name);
      } else if (isUnionType(t)) {
        if (!t.getTypes().some((m) => keptTypes.has(m.name))) drop(keptTypes, t.name);
      }
    }
    // Reachability from the root operation types over what is still kept.
    const reached = new Set<string>();
    const queue: GraphQLNamedType[] = ROOTS.map((r) => api.getType(r)).filter((t): t is GraphQLNamedType => !!t && keptTypes.has(t.name));
    const visitType = (t: GraphQLNamedType) => {
      if (!keptTypes.has(t.name) || reached.has(t.name)) return;
      reached.add(t.name);
      queue.push(t);
    };
    for (const t of [...queue]) reached.add(t.name);
    while (queue.length) {
      const t = queue.shift()!;
      if (isObjectType(t) || isInterfaceType(t)) {
        for (const f of Object.values(t.getFields())) {
          const c = `${t.name}.${f.name}`;
          if (!keptFields.has(c)) continue;
          visitType(getNamedType(f.type));
          for (const a of f.args) if (keptFields.has(`${c}(${a.name}:)`)) visitType(getNamedType(a.type));
        }
        if (isInterfaceType(t)) for (const impl of api.getPossibleTypes(t)) visitType(impl);
        for (const i of t.getInterfaces()) visitType(i);
      } else if (isInputObjectType(t)) {
        for (const f of Object.values(t.getFields())) if (keptFields.has(`${t.name}.${f.name}`)) visitType(getNamedType(f.type));
      } else if (isUnionType(t)) {
        for (const m of t.getTypes()) visitType(m);
      }
    }
    for (const name of [...keptTypes]) if (!reached.has(name) && !isSpecifiedScalarType(api.getType(name) as GraphQLNamedType)) drop(keptTypes, name);
  }

  const kept = new Set<string>(keptTypes);
  for (const c of keptFields) if (keptTypes.has(c.split(".")[0])) kept.add(c);
  return kept;
}

const INACCESSIBLE: DirectiveNode = { kind: Kind.DIRECTIVE, name: { kind: Kind.NAME, value: "inaccessible" } };

function withInaccessible<T extends { directives?: readonly DirectiveNode[] }>(node: T): T {
  if (node.directives?.some((d) => d.name.value === "inaccessible")) return node;
  return { ...node, directives: [...(node.directives ?? []), INACCESSIBLE] };
}

/** Marks every coordinate of `api` that is not in `kept` @inaccessible in a subgraph SDL. */
export function markInaccessible(sdl: string, api: GraphQLSchema, kept: Set<string>): string {
  const doc = parse(sdl);
  const inApi = (type: string) => !!api.getType(type);
  const out = visit(doc, {
    enter(node: ASTNode) {
      if (
        node.kind !== Kind.OBJECT_TYPE_DEFINITION && node.kind !== Kind.OBJECT_TYPE_EXTENSION &&
        node.kind !== Kind.INTERFACE_TYPE_DEFINITION && node.kind !== Kind.INTERFACE_TYPE_EXTENSION &&
        node.kind !== Kind.INPUT_OBJECT_TYPE_DEFINITION && node.kind !== Kind.INPUT_OBJECT_TYPE_EXTENSION &&
        node.kind !== Kind.ENUM_TYPE_DEFINITION && node.kind !== Kind.ENUM_TYPE_EXTENSION &&
        node.kind !== Kind.UNION_TYPE_DEFINITION && node.kind !== Kind.UNION_TYPE_EXTENSION &&
        node.kind !== Kind.SCALAR_TYPE_DEFINITION && node.kind !== Kind.SCALAR_TYPE_EXTENSION
      ) return undefined;
      const type = node.name.value;
      // Only what the API schema shows can be hidden (federation's own types are not in it).
      if (!inApi(type)) return false;
      if (!kept.has(type)) {
        // Query cannot be @inaccessible (the contract must have one); Mutation/Subscription can.
        if (type !== "Query") return withInaccessible(node);
      }
      let next: any = node;
      if ("fields" in node && node.fields) {
        next = {
          ...next,
          fields: node.fields.map((f: any) => {
            const c = `${type}.${f.name.value}`;
            if (!kept.has(c)) return withInaccessible(f);
            if (!f.arguments) return f;
            return { ...f, arguments: f.arguments.map((a: any) => (kept.has(`${c}(${a.name.value}:)`) ? a : withInaccessible(a))) };
          }),
        };
      }
      if ("values" in node && node.values) {
        next = { ...next, values: node.values.map((v) => (kept.has(`${type}.${v.name.value}`) ? v : withInaccessible(v))) };
      }
      return next;
    },
  });
  return print(out);
}

/**
 * Every type, field, argument and input field of a contract needs a description:
 * partners read the generated reference, not our code. Returns the offenders.
 */
export function missingDescriptions(schema: GraphQLSchema): string[] {
  const missing: string[] = [];
  const blank = (d: string | null | undefined) => !d || !d.trim();
  for (const t of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(t) || isSpecifiedScalarType(t)) continue;
    if (!ROOTS.includes(t.name) && blank(t.description)) missing.push(t.name);
    if (isObjectType(t) || isInterfaceType(t)) {
      for (const f of Object.values(t.getFields())) {
        if (blank(f.description)) missing.push(`${t.name}.${f.name}`);
        for (const a of f.args) if (blank(a.description)) missing.push(`${t.name}.${f.name}(${a.name}:)`);
      }
    } else if (isInputObjectType(t)) {
      for (const f of Object.values(t.getFields())) if (blank(f.description)) missing.push(`${t.name}.${f.name}`);
    }
  }
  return missing.sort();
}

export class ContractError extends Error {}

/**
 * Builds one contract from the subgraph SDLs and the full API schema.
 * Throws ContractError when the variant does not compose or lacks descriptions.
 */
export function buildContract(
  subgraphSdls: Record<string, string>,
  api: GraphQLSchema,
  spec: ContractSpec,
  urls: Record<string, string>,
): ComposedContract {
  const kept = contractCoordinates(api, collectTags(subgraphSdls), spec);
  const marked = Object.entries(subgraphSdls).map(([name, sdl]) => ({ name, typeDefs: parse(markInaccessible(sdl, api, kept)), url: urls[name] }));
  const result = composeServices(marked);
  if (result.errors) {
    throw new ContractError(`contract "${spec.name}" does not compose:\n${result.errors.map((e) => `- ${e.message}`).join("\n")}`);
  }
  const contractApi = result.schema.toAPISchema().toGraphQLJSSchema();
  const missing = missingDescriptions(contractApi);
  if (missing.length) {
    throw new ContractError(
      `contract "${spec.name}": every type, field and argument partners can see needs a description ` +
        `(type-graphql: { description: "..." }). Missing:\n${missing.map((m) => `- ${m}`).join("\n")}`,
    );
  }
  return { spec, supergraph: result.supergraphSdl, apiSchema: printSchema(contractApi), markdown: contractMarkdown(contractApi, spec) };
}

const BUILT_IN_SCALARS = new Set(["String", "Int", "Float", "Boolean", "ID"]);

function typeRef(t: { toString(): string }): string {
  const s = t.toString();
  const name = s.replace(/[[\]!]/g, "");
  return BUILT_IN_SCALARS.has(name) ? `\`${s}\`` : `[\`${s}\`](#${name.toLowerCase()})`;
}

function oneLine(d: string | null | undefined): string {
  return (d ?? "").replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|").trim();
}

/** A deterministic Markdown reference of a contract's API schema. */
export function contractMarkdown(schema: GraphQLSchema, spec: ContractSpec): string {
  const lines: string[] = [
    `# ${spec.title} reference`,
    "",
    `Generated by \`npm run schema:compose\` from \`schema/contracts/${spec.name}.graphql\`; do not edit by hand.`,
    `Endpoint: \`POST /${spec.name}/graphql\` on the gateway with an \`x-api-key\` header; subscriptions over graphql-ws on the same path`,
    `with \`{ "x-api-key": "..." }\` in \`connection_init\` (see docs/partners.md).`,
    "",
  ];
  const section = (title: string) => lines.push(`## ${title}`, "");
  const fieldsTable = (t: GraphQLNamedType) => {
    if (!(isObjectType(t) || isInterfaceType(t) || isInputObjectType(t))) return;
    lines.push("| field | type | description |", "| --- | --- | --- |");
    for (const f of Object.values(t.getFields())) {
      const dep = "deprecationReason" in f && f.deprecationReason ? ` **Deprecated:** ${oneLine(f.deprecationReason)}` : "";
      lines.push(`| \`${f.name}\` | ${typeRef(f.type)} | ${oneLine(f.description)}${dep} |`);
      if ("args" in f) {
        for (const a of f.args) {
          const def = a.defaultValue !== undefined ? ` (default \`${JSON.stringify(a.defaultValue)}\`)` : "";
          lines.push(`| &nbsp;&nbsp;↳ \`${a.name}\` | ${typeRef(a.type)} | argument: ${oneLine(a.description)}${def} |`);
        }
      }
    }
    lines.push("");
  };
  for (const root of ROOTS) {
    const t = schema.getType(root);
    if (!t) continue;
    section(root === "Query" ? "Queries" : root === "Mutation" ? "Mutations" : "Subscriptions");
    lines.push(`<a id="${root.toLowerCase()}"></a>`, "");
    fieldsTable(t);
  }
  const named = Object.values(schema.getTypeMap())
    .filter((t) => !isIntrospectionType(t) && !ROOTS.includes(t.name) && !isSpecifiedScalarType(t))
    .sort((a, b) => a.name.localeCompare(b.name));
  section("Types");
  for (const t of named) {
    const kind = isObjectType(t) ? "object" : isInterfaceType(t) ? "interface" : isInputObjectType(t) ? "input" : isEnumType(t) ? "enum" : isUnionType(t) ? "union" : isScalarType(t) ? "scalar" : "type";
    lines.push(`### ${t.name}`, "", `<a id="${t.name.toLowerCase()}"></a>*${kind}* — ${oneLine(t.description)}`, "");
    if (isEnumType(t)) {
      lines.push("| value | description |", "| --- | --- |");
      for (const v of t.getValues()) {
        const dep = v.deprecationReason ? ` **Deprecated:** ${oneLine(v.deprecationReason)}` : "";
        lines.push(`| \`${v.name}\` | ${oneLine(v.description)}${dep} |`);
      }
      lines.push("");
    } else if (isUnionType(t)) {
      lines.push(`One of: ${t.getTypes().map((m) => typeRef(m)).join(", ")}`, "");
    } else {
      fieldsTable(t);
    }
  }
  return `${lines.join("\n").trimEnd()}\n`;
}
