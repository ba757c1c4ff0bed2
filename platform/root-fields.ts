import { GraphQLIncludeDirective, GraphQLSkipDirective, Kind, getDirectiveValues, getVariableValues, isAbstractType, typeFromAST } from "graphql";
import type { DirectiveNode, DocumentNode, FragmentDefinitionNode, GraphQLObjectType, GraphQLSchema, OperationDefinitionNode, SelectionSetNode } from "graphql";

/**
 * The root fields an operation executes, one entry per response key, collected exactly as
 * graphql-js's collectFields does: inline fragments and named spreads (each named fragment
 * once per selection set) whose type condition applies, minus selections turned off by
 * @skip/@include. Aliased copies of a field are separate executions; fields merged under one
 * response key execute once. The money rate limit counts these.
 */
const rootFieldsMemo = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, { document: DocumentNode; fields: string[] }>>();

/** Whether any selection that collectRootFields visits carries a directive (only then do the variables matter). */
function rootSelectionsHaveDirectives(document: DocumentNode, operation: OperationDefinitionNode): boolean {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const seen = new Set<string>();
  const scan = (set: SelectionSetNode): boolean => {
    for (const sel of set.selections) {
      if (sel.directives?.length) return true;
      if (sel.kind === Kind.INLINE_FRAGMENT && scan(sel.selectionSet)) return true;
      if (sel.kind === Kind.FRAGMENT_SPREAD && !seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        const frag = fragments.get(sel.name.value);
        if (frag && (frag.directives?.length || scan(frag.selectionSet))) return true;
      }
    }
    return false;
  };
  return scan(operation.selectionSet);
}

export function collectRootFields(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, rawVariables: Record<string, unknown> | undefined): string[] {
  const memo = rootFieldsMemo.get(schema)?.get(operation);
  if (memo && memo.document === document) return [...memo.fields];
  // Without @skip/@include the variables cannot change the answer: no coercion, and the answer is kept per operation.
  if (!rootSelectionsHaveDirectives(document, operation)) {
    const fields = collectRootFieldsWith(schema, document, operation, undefined);
    let perSchema = rootFieldsMemo.get(schema);
    if (!perSchema) rootFieldsMemo.set(schema, (perSchema = new WeakMap()));
    perSchema.set(operation, { document, fields });
    return [...fields];
  }
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], rawVariables ?? {});
  // Variables that do not coerce fail execution anyway; without them, count every field (never fewer).
  return collectRootFieldsWith(schema, document, operation, coerced.coerced);
}

function collectRootFieldsWith(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Record<string, unknown> | undefined): string[] {
  const root = schema.getRootType(operation.operation);
  if (!root) return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  const fields = new Map<string, string>();
  const visited = new Set<string>();
  const included = (node: { directives?: readonly DirectiveNode[] }): boolean => {
    if (!variables) return true;
    if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.if === true) return false;
    if (getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if === false) return false;
    return true;
  };
  const applies = (typeName: string | undefined, type: GraphQLObjectType): boolean => {
    if (!typeName) return true;
    const condition = typeFromAST(schema, { kind: Kind.NAMED_TYPE, name: { kind: Kind.NAME, value: typeName } });
    if (!condition) return false;
    if (condition === type) return true;
    return isAbstractType(condition) && schema.isSubType(condition, type);
  };
  const collect = (set: SelectionSetNode): void => {
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === Kind.FIELD) {
        const key = sel.alias?.value ?? sel.name.value;
        if (!fields.has(key)) fields.set(key, sel.name.value);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        if (applies(sel.typeCondition?.name.value, root)) collect(sel.selectionSet);
      } else {
        const name = sel.name.value;
        if (visited.has(name)) continue;
        visited.add(name);
        const frag = fragments.get(name);
        if (frag && applies(frag.typeCondition.name.value, root)) collect(frag.selectionSet);
      }
    }
  };
  collect(operation.selectionSet);
  return [...fields.values()];
}
