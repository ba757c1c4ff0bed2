import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { GraphQLError, parse, printSchema, validate, type DocumentNode, type GraphQLSchema } from "graphql";
import { ErrorCode } from "../platform/errors.js";
import { logger } from "../platform/logger.js";
import { schemaDir, type PersistedOperationsMode } from "./config.js";

/**
 * Persisted operations ("trusted documents", DECISIONS 95): the operations the web app is built
 * with, in a manifest generated from web/src/operations.ts (`npm run operations:manifest` →
 * schema/persisted-operations.json, Apollo's persisted-query-manifest format; id = SHA-256 of the
 * exact document text the client sends).
 *
 * - Wire format: Apollo's APQ, `extensions.persistedQuery { version: 1, sha256Hash }`, with or
 *   without the text; over graphql-ws the text may be "" when the id is given.
 * - Known operations are served from a document parsed and validated once, at start (and again
 *   on a schema update), through Apollo Server's document store; their text, when a client sends
 *   it, is swapped for the id before Apollo sees it (a Map lookup instead of hashing it again).
 * - `open` (default): every valid operation runs; unknown ids answer PERSISTED_QUERY_NOT_FOUND and
 *   register with the text, as APQ always did (a bounded in-memory cache, 4 MiB of text).
 * - `required` (PERSISTED_OPERATIONS=required): anything that is not in the manifest — an unknown
 *   id, an unknown or edited text — is refused with OPERATION_NOT_PERSISTED before it is parsed,
 *   on HTTP (GET and POST, each operation of a batch) and on graphql-ws subscribe alike. Only
 *   /graphql: the partner endpoint serves partners' own operations under their API keys.
 */
export interface ManifestOperation {
  id: string;
  name: string;
  type: "query" | "mutation" | "subscription";
  body: string;
}

export interface PersistedOperationManifest {
  format: "apollo-persisted-query-manifest";
  version: 1;
  operations: ManifestOperation[];
}

export const MANIFEST_FILE = "persisted-operations.json";

export function operationId(body: string): string {
  return createHash("sha256").update(body).digest("hex");
}

/** The committed manifest (schema/persisted-operations.json); an empty one when the file is absent. */
export function readManifest(file = `${schemaDir()}${MANIFEST_FILE}`): PersistedOperationManifest {
  if (!existsSync(file)) return { format: "apollo-persisted-query-manifest", version: 1, operations: [] };
  const manifest = JSON.parse(readFileSync(file, "utf8")) as PersistedOperationManifest;
  if (manifest.format !== "apollo-persisted-query-manifest" || manifest.version !== 1 || !Array.isArray(manifest.operations)) {
    throw new Error(`${file} is not an apollo-persisted-query-manifest, version 1`);
  }
  for (const op of manifest.operations) {
    if (operationId(op.body) !== op.id) throw new Error(`${file}: operation ${op.name} has id ${op.id}, but its body hashes to ${operationId(op.body)} (regenerate it: npm run operations:manifest)`);
  }
  return manifest;
}

/** The refusal: one stable code (ErrorCode.OPERATION_NOT_PERSISTED), HTTP 400. */
export function notPersisted(what: string): GraphQLError {
  return new GraphQLError(
    `This endpoint runs only the operations in its persisted-operation manifest, and ${what} is not one of them. ` +
      "Send an operation the client was built with (its id in extensions.persistedQuery.sha256Hash, or its exact text).",
    { extensions: { code: ErrorCode.OPERATION_NOT_PERSISTED, http: { status: 400 } } },
  );
}

/**
 * A small LRU (Map order) for what is not in the manifest: APQ registrations and other documents,
 * bounded by a size (characters of query text) as Apollo's own caches are, not by a count alone.
 */
class Lru<V> {
  private readonly map = new Map<string, { v: V; size: number }>();
  private total = 0;
  constructor(
    private readonly maxSize: number,
    private readonly sizeOf: (v: V) => number,
  ) {}
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (e !== undefined) {
      this.map.delete(key);
      this.map.set(key, e);
    }
    return e?.v;
  }
  set(key: string, v: V): void {
    this.delete(key);
    const size = this.sizeOf(v);
    if (size > this.maxSize) return;
    this.map.set(key, { v, size });
    this.total += size;
    while (this.total > this.maxSize) this.delete(this.map.keys().next().value as string);
  }
  delete(key: string): void {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.total -= e.size;
  }
}

/** Apollo's KeyValueCache shape (@apollo/utils.keyvaluecache), which its `persistedQueries.cache` and `documentStore` take. */
export interface KeyValueCacheLike<V> {
  get(key: string): Promise<V | undefined>;
  set(key: string, value: V, options?: { ttl?: number | null }): Promise<void>;
  delete(key: string): Promise<boolean | void>;
}

type GraphQLOperationBody = { query?: unknown; extensions?: unknown; operationName?: unknown };

function persistedHash(op: GraphQLOperationBody): string | undefined {
  const ext = op.extensions;
  if (!ext || typeof ext !== "object") return undefined;
  const pq = (ext as { persistedQuery?: { sha256Hash?: unknown } }).persistedQuery;
  return typeof pq?.sha256Hash === "string" ? pq.sha256Hash : undefined;
}

export class PersistedOperations {
  private readonly byId = new Map<string, ManifestOperation>();
  private readonly idByBody = new Map<string, string>();
  /** id → the manifest document parsed and validated against the current API schema. */
  private prepared = new Map<string, DocumentNode>();
  /** Apollo's document-store key prefix for that schema (`<sha256 of the printed schema>:`). */
  private preparedPrefix = "";
  /** APQ registrations (open mode): at most 4 MiB of query text. */
  private readonly registered = new Lru<string>(4 << 20, (text) => text.length);
  /** Documents Apollo parsed and validated that are not in the manifest: their sources, at most 2 MiB of text (ASTs are ~20× that). */
  private readonly documents = new Lru<DocumentNode>(2 << 20, (doc) => doc.loc?.end ?? 10_000);
  /** Counters for tests and metrics. */
  readonly stats = { byId: 0, byText: 0, preparedHits: 0, refused: 0, invalid: 0, unknownIds: 0 };

  constructor(
    readonly mode: PersistedOperationsMode,
    manifest: PersistedOperationManifest = readManifest(),
  ) {
    for (const op of manifest.operations) {
      this.byId.set(op.id, op);
      this.idByBody.set(op.body, op.id);
    }
  }

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /**
   * Parses and validates every manifest operation against `apiSchema` (at start and on every
   * schema update). One that no longer validates is logged and left to the normal path, where it
   * answers its validation errors.
   */
  prepare(apiSchema: GraphQLSchema): void {
    const prepared = new Map<string, DocumentNode>();
    let invalid = 0;
    for (const op of this.byId.values()) {
      try {
        const document = parse(op.body);
        const errors = validate(apiSchema, document);
        if (errors.length === 0) prepared.set(op.id, document);
        else {
          invalid++;
          logger.error({ operation: op.name, id: op.id, errors: errors.map((e) => e.message) }, "persisted operation does not validate against the schema");
        }
      } catch (e) {
        invalid++;
        logger.error({ operation: op.name, id: op.id, err: e instanceof Error ? e.message : String(e) }, "persisted operation does not parse");
      }
    }
    this.prepared = prepared;
    this.stats.invalid = invalid;
    // Apollo Server keys a provided document store by `${computeCoreSchemaHash(printSchema(schema))}:${queryHash}`.
    this.preparedPrefix = `${createHash("sha256").update(printSchema(apiSchema)).digest("hex")}:`;
  }

  /**
   * Checks one HTTP operation (a POST body, an element of a batch, or a GET's parameters) before
   * Apollo parses it. A known text becomes its id (`op` is rewritten in place when `rewrite`); in
   * required mode anything unknown is refused.
   */
  check(op: GraphQLOperationBody, rewrite = true): GraphQLError | null {
    if (!op || typeof op !== "object") return null;
    const hash = persistedHash(op);
    if (hash !== undefined) {
      if (this.byId.has(hash)) {
        this.stats.byId++;
        return null;
      }
      if (this.mode === "required") return this.refuse(`the operation with id ${hash.slice(0, 16)}…`);
      this.stats.unknownIds++;
      return null;
    }
    if (typeof op.query !== "string") return null; // Apollo answers a body without a query itself
    const id = this.idByBody.get(op.query);
    if (id !== undefined) {
      this.stats.byText++;
      if (rewrite) {
        delete op.query;
        op.extensions = { ...(op.extensions && typeof op.extensions === "object" ? op.extensions : {}), persistedQuery: { version: 1, sha256Hash: id } };
      }
      return null;
    }
    if (this.mode === "required") return this.refuse(typeof op.operationName === "string" ? `operation ${JSON.stringify(op.operationName.slice(0, 64))}` : "this operation text");
    return null;
  }

  /**
   * The HTTP check of a whole request, before Apollo: every operation of a POST body (one or a
   * batch; known texts rewritten to their ids), or a GET's `query` / `extensions` parameters.
   */
  httpPreflight(body: unknown, method: string, search: URLSearchParams): GraphQLError | null {
    if (method === "GET") {
      let extensions: unknown;
      const raw = search.get("extensions");
      if (raw) {
        try {
          extensions = JSON.parse(raw);
        } catch {
          return null; // Apollo answers malformed parameters itself
        }
      }
      return this.check({ query: search.get("query") ?? undefined, extensions, operationName: search.get("operationName") ?? undefined }, false);
    }
    for (const op of Array.isArray(body) ? body : [body]) {
      const refused = this.check(op as GraphQLOperationBody);
      if (refused) return refused;
    }
    return null;
  }

  /** A graphql-ws subscribe payload: the payload to run (its text filled in from the manifest when only the id came), or the refusal. */
  resolveSubscribe<P extends { query: string; extensions?: Record<string, unknown> | null; operationName?: string | null }>(payload: P): P | GraphQLError {
    const hash = persistedHash(payload);
    if (hash !== undefined) {
      const op = this.byId.get(hash);
      if (op) {
        this.stats.byId++;
        if (payload.query === "") return { ...payload, query: op.body };
        if (payload.query === op.body) return payload;
        return new GraphQLError("provided sha does not match query", { extensions: { code: "BAD_REQUEST" } });
      }
      if (this.mode === "required") return this.refuse(`the operation with id ${hash.slice(0, 16)}…`);
      this.stats.unknownIds++;
      // As on HTTP (Apollo's APQ): an unknown id without its text is not found; with its text it just runs.
      if (payload.query === "") return new GraphQLError("PersistedQueryNotFound", { extensions: { code: "PERSISTED_QUERY_NOT_FOUND" } });
      return payload;
    }
    if (this.idByBody.has(payload.query)) {
      this.stats.byText++;
      return payload;
    }
    if (this.mode === "required") return this.refuse(payload.operationName ? `operation ${JSON.stringify(payload.operationName.slice(0, 64))}` : "this operation text");
    return payload;
  }

  private refuse(what: string): GraphQLError {
    this.stats.refused++;
    return notPersisted(what);
  }

  /** Apollo Server's `persistedQueries.cache`: manifest texts by id; in open mode also APQ registrations (bounded). */
  apqCache(): KeyValueCacheLike<string> {
    const key = (k: string) => (k.startsWith("apq:") ? k.slice(4) : k);
    return {
      get: async (k) => this.byId.get(key(k))?.body ?? (this.mode === "open" ? this.registered.get(key(k)) : undefined),
      set: async (k, v) => {
        if (this.mode === "open" && !this.byId.has(key(k))) this.registered.set(key(k), v);
      },
      delete: async (k) => {
        this.registered.delete(key(k));
        return true;
      },
    };
  }

  /** Apollo Server's `documentStore`: the prepared manifest documents, then the most recent others it parsed and validated (LRU). */
  documentStore(): KeyValueCacheLike<DocumentNode> {
    return {
      get: async (k) => {
        if (k.startsWith(this.preparedPrefix)) {
          const doc = this.prepared.get(k.slice(this.preparedPrefix.length));
          if (doc) {
            this.stats.preparedHits++;
            return doc;
          }
        }
        return this.documents.get(k);
      },
      set: async (k, v) => this.documents.set(k, v),
      delete: async (k) => {
        this.documents.delete(k);
        return true;
      },
    };
  }
}
