import { createRequire } from "node:module";
import type { DefinitionNode, DocumentNode, OperationDefinitionNode } from "graphql";

/**
 * @apollo/gateway's executeQueryPlan builds the federation `Operation` of the incoming document
 * again on EVERY request (`operationFromDocument(apiSchema, { operation, ...fragments }, { validate:
 * false })`, for result shaping), even though the plan itself is cached: ~3% of the gateway's busy
 * CPU under sendGift load, more for bigger queries (2026-12-02 profile). The document it reads comes
 * from Apollo Server's document store, so a repeated operation arrives as the very same AST nodes:
 * this memoizes the Operation per (schema, operation node, fragment nodes).
 *
 * How: executeQueryPlan calls it through the package index, whose export is a getter over
 * `dist/operations.js`'s `exports.operationFromDocument`; replacing that property is seen by the
 * gateway (versions are pinned exactly, see package.json; test/unit/operation-memo.test.ts fails if
 * an upgrade changes the shape). Only calls shaped like executeQueryPlan's are memoized (no
 * operationName, `validate: false`); the Operation is read-only to result shaping.
 */
type OperationFromDocument = (schema: object, document: DocumentNode, options?: { operationName?: string; validate?: boolean }) => unknown;

interface Memo {
  definitions: readonly DefinitionNode[];
  operation: unknown;
}

const require = createRequire(import.meta.url);
let installed = false;
const memo = new WeakMap<object, WeakMap<OperationDefinitionNode, Memo>>();

/** Counters for tests: Operations built by the original function, and answers served from the memo. */
export const operationMemoStats = { built: 0, reused: 0 };

function sameDefinitions(a: readonly DefinitionNode[], b: readonly DefinitionNode[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Installs the memo once per process (startGateway calls it). */
export function installOperationMemo(): void {
  if (installed) return;
  installed = true;
  const operations = require("@apollo/federation-internals/dist/operations.js") as { operationFromDocument: OperationFromDocument };
  const original = operations.operationFromDocument;
  operations.operationFromDocument = function memoized(schema, document, options) {
    const first = document.definitions[0];
    if (options?.validate !== false || options.operationName !== undefined || first?.kind !== "OperationDefinition") {
      operationMemoStats.built++;
      return original(schema, document, options);
    }
    let perSchema = memo.get(schema);
    if (!perSchema) memo.set(schema, (perSchema = new WeakMap()));
    const hit = perSchema.get(first);
    if (hit && sameDefinitions(hit.definitions, document.definitions)) {
      operationMemoStats.reused++;
      return hit.operation;
    }
    operationMemoStats.built++;
    const operation = original(schema, document, options);
    perSchema.set(first, { definitions: [...document.definitions], operation });
    return operation;
  };
}
