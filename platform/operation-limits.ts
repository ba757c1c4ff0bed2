import {
  GraphQLError,
  Kind,
  Lexer,
  Source,
  TokenKind,
  getNamedType,
  getNullableType,
  isListType,
  isCompositeType,
  type DocumentNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
  type ValueNode,
  isObjectType,
  isInterfaceType,
} from "graphql";
import type { ApolloServerPlugin } from "@apollo/server";
import { LimitCode, limitError } from "./codes.js";

/**
 * Operation limits: ONE implementation for every entry point — the gateway's HTTP endpoints
 * (before any subgraph is called), each subgraph's HTTP pipeline (platform/http.ts), and every
 * graphql-ws subscribe message (platform/ws-socket-limits.ts). Each violation is a typed error with
 * its own code (HTTP 400; over WebSocket an `error` message with the same code).
 */
export interface OperationLimits {
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  /** Estimated cost: every field 1, list fields multiplied by `first`/`last`/`limit` (or listDefault). */
  maxCost: number;
  listDefault: number;
  /** Operations per batched HTTP request. */
  maxBatch: number;
}

export const DEFAULT_LIMITS: OperationLimits = {
  maxDepth: 12,
  maxAliases: 30,
  maxTokens: 2000,
  maxCost: 5000,
  listDefault: 20,
  maxBatch: 10,
};

/** Counts lexical tokens, stopping once past `max` (cheap: no AST is built). */
export function countTokens(query: string, max: number): number {
  const lexer = new Lexer(new Source(query));
  let n = 0;
  try {
    while (lexer.advance().kind !== TokenKind.EOF) if (++n > max) break;
  } catch {
    // A lexing error is reported by the parser with a proper GraphQL syntax error.
  }
  return n;
}

/**
 * Query texts seen recently with their token counts: clients repeat the same few operations, and
 * a Map lookup is cheaper than lexing the text again (~1% of the gateway's busy CPU under sendGift
 * load, 2026-12-02). Bounded by total characters; only texts up to 8 KiB are kept.
 */
const TOKEN_MEMO_MAX_CHARS = 2 * 1024 * 1024;
const TOKEN_MEMO_MAX_TEXT = 8 * 1024;
const tokenMemo = new Map<string, { n: number; max: number }>();
let tokenMemoChars = 0;

/** countTokens with the memo above (same answer: exact up to `max`, else more than `max`). */
export function countTokensMemo(query: string, max: number): number {
  const known = tokenMemo.get(query);
  if (known) {
    if (known.n <= known.max) return Math.min(known.n, max + 1); // the exact count (as countTokens, no more than max + 1)
    if (max <= known.max) return max + 1; // more than known.max >= max
  }
  const n = countTokens(query, max);
  if (query.length <= TOKEN_MEMO_MAX_TEXT) {
    if (tokenMemoChars + query.length > TOKEN_MEMO_MAX_CHARS) {
      tokenMemo.clear();
      tokenMemoChars = 0;
    }
    if (!known) tokenMemoChars += query.length;
    tokenMemo.set(query, { n, max });
  }
  return n;
}

/** Checks a raw HTTP body before Apollo parses it: batch size and token count. */
export function preflight(body: unknown, limits: OperationLimits): GraphQLError | null {
  const ops = Array.isArray(body) ? body : [body];
  if (Array.isArray(body) && body.length > limits.maxBatch) {
    return limitError(LimitCode.BATCH_TOO_LARGE, `a batch may hold at most ${limits.maxBatch} operations`, { limit: limits.maxBatch });
  }
  for (const op of ops) {
    const q = op && typeof op === "object" ? (op as { query?: unknown }).query : undefined;
    if (typeof q === "string" && countTokensMemo(q, limits.maxTokens) > limits.maxTokens) {
      return limitError(LimitCode.TOO_MANY_TOKENS, `the query has more than ${limits.maxTokens} tokens`, { limit: limits.maxTokens });
    }
  }
  return null;
}

export interface OperationShape {
  depth: number;
  aliases: number;
  cost: number;
}

function numberArg(value: ValueNode | undefined, variables: Record<string, unknown>): number | undefined {
  if (!value) return undefined;
  if (value.kind === Kind.INT) return Number(value.value);
  if (value.kind === Kind.VARIABLE) {
    const v = variables[value.name.value];
    return typeof v === "number" ? v : undefined;
  }
  return undefined;
}

/**
 * Shapes that do not depend on the variables (no `first`/`last`/`limit` from a variable), per
 * schema and operation node: Apollo's document store hands a repeated operation over as the same
 * AST, so a known operation is measured once.
 */
const shapeMemo = new WeakMap<GraphQLSchema, WeakMap<OperationDefinitionNode, { document: DocumentNode; listDefault: number; shape: OperationShape }>>();

/**
 * Depth, alias count and estimated cost of one operation. Introspection fields cost nothing and
 * add no depth (the standard introspection query is deep), but their aliases count: an alias is
 * the only way to make the server answer the same (large) introspection field twice.
 */
export function measureOperation(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Record<string, unknown>,
  listDefault = DEFAULT_LIMITS.listDefault,
): OperationShape {
  const memo = shapeMemo.get(schema)?.get(operation);
  if (memo && memo.document === document && memo.listDefault === listDefault) return memo.shape;
  let variableDependent = false;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
  let aliases = 0;
  const countedFragments = new Set<string>();

  const walk = (set: SelectionSetNode, parent: GraphQLCompositeType | undefined, depth: number, countAliases: boolean): { depth: number; cost: number } => {
    let maxDepth = depth;
    let cost = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const name = sel.name.value;
        if (sel.alias && countAliases) aliases++;
        if (name.startsWith("__")) {
          // Only the aliases inside count (depth and cost of introspection are free).
          if (sel.selectionSet) walk(sel.selectionSet, undefined, depth, countAliases);
          continue;
        }
        const fieldDef = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
        let factor = 1;
        if (fieldDef && isListType(getNullableType(fieldDef.type))) {
          const arg = (n: string) => {
            const value = sel.arguments?.find((a) => a.name.value === n)?.value;
            if (value?.kind === Kind.VARIABLE) variableDependent = true;
            return numberArg(value, variables);
          };
          factor = Math.max(1, arg("first") ?? arg("last") ?? arg("limit") ?? listDefault);
        }
        if (sel.selectionSet) {
          const child = fieldDef ? getNamedType(fieldDef.type) : undefined;
          const inner = walk(sel.selectionSet, child && isCompositeType(child) ? child : undefined, depth + 1, countAliases);
          maxDepth = Math.max(maxDepth, inner.depth);
          cost += 1 + factor * inner.cost;
        } else {
          maxDepth = Math.max(maxDepth, depth);
          cost += 1;
        }
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const t = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : parent;
        const inner = walk(sel.selectionSet, t && isCompositeType(t) ? t : parent, depth, countAliases);
        maxDepth = Math.max(maxDepth, inner.depth);
        cost += inner.cost;
      } else {
        const frag = fragments.get(sel.name.value);
        if (!frag) continue;
        const first = !countedFragments.has(frag.name.value);
        countedFragments.add(frag.name.value);
        const t = schema.getType(frag.typeCondition.name.value);
        // Aliases in a fragment count once (they are written once); cost and depth count every use.
        const inner = walk(frag.selectionSet, t && isCompositeType(t) ? t : parent, depth, countAliases && first);
        maxDepth = Math.max(maxDepth, inner.depth);
        cost += inner.cost;
      }
    }
    return { depth: maxDepth, cost };
  };

  const root = operation.operation === "query" ? schema.getQueryType() : operation.operation === "mutation" ? schema.getMutationType() : schema.getSubscriptionType();
  const { depth, cost } = walk(operation.selectionSet, root ?? undefined, 1, true);
  const shape = { depth, aliases, cost };
  if (!variableDependent) {
    let perSchema = shapeMemo.get(schema);
    if (!perSchema) shapeMemo.set(schema, (perSchema = new WeakMap()));
    perSchema.set(operation, { document, listDefault, shape });
  }
  return shape;
}

export function checkShape(shape: OperationShape, limits: OperationLimits): GraphQLError | null {
  if (shape.depth > limits.maxDepth) return limitError(LimitCode.QUERY_TOO_DEEP, `query depth ${shape.depth} exceeds ${limits.maxDepth}`, { depth: shape.depth, limit: limits.maxDepth });
  if (shape.aliases > limits.maxAliases) return limitError(LimitCode.TOO_MANY_ALIASES, `query uses ${shape.aliases} aliases, more than ${limits.maxAliases}`, { aliases: shape.aliases, limit: limits.maxAliases });
  if (shape.cost > limits.maxCost) return limitError(LimitCode.QUERY_TOO_COMPLEX, `query cost ${shape.cost} exceeds ${limits.maxCost}`, { cost: shape.cost, limit: limits.maxCost });
  return null;
}

/** Apollo plugin: measures every resolved operation and refuses it before the query plan runs. */
export function operationLimitsPlugin(limits: OperationLimits = DEFAULT_LIMITS): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          const err = checkShape(measureOperation(schema, document, operation, request.variables ?? {}, limits.listDefault), limits);
          if (err) throw err;
        },
      };
    },
  };
}

/** Validation messages without "Did you mean …?" (production: suggestions reveal the schema). Apollo's rule, also used over WebSocket. */
export function hideSuggestions(message: string): string {
  return message.replace(/ ?Did you mean(.+?)\?$/, "");
}
