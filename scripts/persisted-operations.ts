import "reflect-metadata";
import { readFileSync, writeFileSync } from "node:fs";
import { Kind, parse, type DocumentNode, type OperationDefinitionNode } from "graphql";
import { isEntryPoint } from "../platform/main.js";
import { schemaDir } from "../gateway/config.js";
import { MANIFEST_FILE, operationId, type ManifestOperation, type PersistedOperationManifest } from "../gateway/persisted-operations.js";

/**
 * `npm run operations:manifest` writes schema/persisted-operations.json from the web app's
 * operations (web/src/operations.ts); `--check` fails when the committed file differs (CI, and
 * test/unit/persisted-operations.test.ts). The body of each operation is the exact text the
 * client sends, so that its id (SHA-256 of the body) is what Apollo Client's persisted-query link
 * computes: documents sent through Apollo Client get the `__typename` fields its cache adds
 * (addTypenameToDocument, then Apollo's print); the graphql-ws subscription strings are taken as is.
 * Needs the dev dependencies (@apollo/client): a build-time tool, never run by a service.
 */
export const MANIFEST_PATH = `${schemaDir()}${MANIFEST_FILE}`;

function operationOf(body: string): OperationDefinitionNode {
  const ops = parse(body).definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (ops.length !== 1 || !ops[0].name) throw new Error(`each persisted document holds one named operation:\n${body}`);
  return ops[0];
}

/** The manifest for a module's exports: DocumentNodes (sent by Apollo Client) and strings (sent by graphql-ws as they are). */
export async function buildManifest(exports: Record<string, unknown>): Promise<PersistedOperationManifest> {
  const { addTypenameToDocument, print } = await import("@apollo/client/utilities");
  const operations: ManifestOperation[] = [];
  for (const value of Object.values(exports)) {
    let body: string;
    if (typeof value === "string") body = value;
    else if (value && typeof value === "object" && (value as DocumentNode).kind === Kind.DOCUMENT) body = print(addTypenameToDocument(value as DocumentNode));
    else continue;
    const op = operationOf(body);
    operations.push({ id: operationId(body), name: op.name!.value, type: op.operation, body });
  }
  const names = new Set<string>();
  for (const op of operations) {
    if (names.has(op.name)) throw new Error(`two persisted operations are named ${op.name}`);
    names.add(op.name);
  }
  operations.sort((a, b) => a.name.localeCompare(b.name));
  return { format: "apollo-persisted-query-manifest", version: 1, operations };
}

export async function webAppManifest(): Promise<PersistedOperationManifest> {
  return buildManifest((await import("../web/src/operations.js")) as Record<string, unknown>);
}

export const manifestText = (m: PersistedOperationManifest) => `${JSON.stringify(m, null, 2)}\n`;

if (isEntryPoint(import.meta.url)) {
  const text = manifestText(await webAppManifest());
  if (process.argv.includes("--check")) {
    let committed = "";
    try {
      committed = readFileSync(MANIFEST_PATH, "utf8");
    } catch {
      // missing: differs
    }
    if (committed !== text) {
      console.error(`schema/${MANIFEST_FILE} is stale: the web app's operations changed. Run \`npm run operations:manifest\` and commit it.`);
      process.exit(1);
    }
    console.log(`schema/${MANIFEST_FILE} is up to date`);
  } else {
    writeFileSync(MANIFEST_PATH, text);
    console.log(`wrote schema/${MANIFEST_FILE}`);
  }
}
