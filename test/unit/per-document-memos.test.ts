import { createRequire } from "node:module";
import { buildSchema, Kind, parse, type DocumentNode, type OperationDefinitionNode } from "graphql";
import { describe, expect, it } from "vitest";
import { countTokens, countTokensMemo, measureOperation } from "../../platform/operation-limits.js";
import { collectRootFields } from "../../platform/root-fields.js";
import { installOperationMemo, operationMemoStats } from "../../gateway/operation-memo.js";

/**
 * What the gateway remembers per operation instead of redoing per request (docs/benchmarks.md
 * "2026-12-02: lean path"): every memo gives the same answer as the work it saves, and anything
 * that depends on the variables is still computed per request.
 */
const schema = buildSchema(`
  type Query { items(first: Int): [Item!]!  one: Item }
  type Mutation { sendGift(input: Int!): Int  recharge(input: Int!): Int }
  type Item { id: ID!  children(first: Int): [Item!]! }
`);
const op = (doc: DocumentNode) => doc.definitions.find((d) => d.kind === Kind.OPERATION_DEFINITION) as OperationDefinitionNode;

describe("per-operation memos", () => {
  it("token counts from the memo equal a fresh count, whatever limit asks", () => {
    const q = `query Q { ${Array.from({ length: 40 }, (_, i) => `a${i}: one { id }`).join(" ")} }`;
    for (const max of [10, 500, 50, 10_000, 5]) expect(countTokensMemo(q, max)).toBe(countTokens(q, max));
  });

  it("a cost that depends on a variable (first: $n) is measured per request, a literal one once", () => {
    const doc = parse(`query($n: Int) { items(first: $n) { id children(first: 3) { id } } }`);
    const small = measureOperation(schema, doc, op(doc), { n: 2 });
    const big = measureOperation(schema, doc, op(doc), { n: 200 });
    expect(big.cost).toBeGreaterThan(small.cost);
    const literal = parse(`{ items(first: 7) { id } }`);
    expect(measureOperation(schema, literal, op(literal), {})).toBe(measureOperation(schema, literal, op(literal), { n: 1 }));
  });

  it("root fields under @skip/@include follow the variables of each request; without directives they are collected once", () => {
    const doc = parse(`mutation($s: Boolean!, $i: Int!) { sendGift(input: $i) @skip(if: $s) recharge(input: $i) }`);
    expect(collectRootFields(schema, doc, op(doc), { s: false, i: 1 })).toEqual(["sendGift", "recharge"]);
    expect(collectRootFields(schema, doc, op(doc), { s: true, i: 1 })).toEqual(["recharge"]);
    expect(collectRootFields(schema, doc, op(doc), { s: false, i: 1 })).toEqual(["sendGift", "recharge"]);
    const plain = parse(`mutation($i: Int!) { a: sendGift(input: $i) b: sendGift(input: $i) ...F } fragment F on Mutation { recharge(input: 1) }`);
    const first = collectRootFields(schema, plain, op(plain), { i: 1 });
    expect(first).toEqual(["sendGift", "sendGift", "recharge"]);
    first.push("tampered"); // a caller's copy: the memo is not changed through it
    expect(collectRootFields(schema, plain, op(plain), { i: "not even an int" })).toEqual(["sendGift", "sendGift", "recharge"]);
  });

  it("the gateway's per-request operationFromDocument (result shaping) is built once per operation node, through the package export executeQueryPlan uses", () => {
    installOperationMemo();
    const require = createRequire(import.meta.url);
    const internals = require("@apollo/federation-internals") as {
      buildSchema(sdl: string): object;
      operationFromDocument(schema: object, doc: DocumentNode, opts?: { validate?: boolean; operationName?: string }): { toString(): string };
    };
    // executeQueryPlan calls it as `(0, federation_internals_1.operationFromDocument)(apiSchema, {...}, { validate: false })`.
    const source = require("fs").readFileSync(require.resolve("@apollo/gateway/dist/executeQueryPlan.js"), "utf8") as string;
    expect(source).toContain("(0, federation_internals_1.operationFromDocument)(apiSchema, {");
    const fed = internals.buildSchema(`type Query { items(first: Int): [Item!]! } type Item { id: ID! }`);
    const doc = parse(`query Q { items(first: 2) { id } }`);
    const before = { ...operationMemoStats };
    // Two requests: a new document object each time around the same operation node, as executeQueryPlan builds it.
    const a = internals.operationFromDocument(fed, { kind: Kind.DOCUMENT, definitions: [op(doc)] }, { validate: false });
    const b = internals.operationFromDocument(fed, { kind: Kind.DOCUMENT, definitions: [op(doc)] }, { validate: false });
    expect(b).toBe(a);
    expect(operationMemoStats.built - before.built).toBe(1);
    expect(operationMemoStats.reused - before.reused).toBe(1);
    // Another operation node (another document) is built on its own.
    const other = parse(`query Q { items(first: 2) { id } }`);
    const c = internals.operationFromDocument(fed, { kind: Kind.DOCUMENT, definitions: [op(other)] }, { validate: false });
    expect(c).not.toBe(a);
    expect(c.toString()).toBe(a.toString());
  });
});
