import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { createHash } from "node:crypto";
import { GraphQLError } from "graphql";
import { SERVICE_HEADER, type ServiceSigner, type SignedIdentity } from "../platform/service-auth.js";
import { clientSpan } from "../platform/tracing.js";
import { subgraphPost, type SubgraphAnswer, type SubgraphPost } from "./fetcher.js";
import { cacheableFetch, invalidatingFetch, type PublicFetches } from "./public-fetches.js";

/** What every gateway context carries for its subgraph calls (the HTTP gateway's, the partner endpoint's, the subscription executor's). */
export interface ForwardedCaller {
  /** The caller's Authorization header, forwarded as is: subgraphs verify it again and authorize by it. */
  authorization?: string;
  /** The request id, so a subgraph's logs and masked errors name the same request. */
  requestId?: string;
  /** The caller's W3C traceparent, passed on when no span of ours is active (platform/tracing.ts). */
  traceparent?: string;
}

/** A caller the gateway's credential vouches for instead of a user token (a partner key), and headers that tag its calls. */
export interface VouchedCaller {
  identity: SignedIdentity;
  headers?: Record<string, string>;
}

export interface SubgraphDataSourceOptions<C extends ForwardedCaller = ForwardedCaller> {
  name: string;
  url: string;
  signer: ServiceSigner;
  /** Hard timeout of each fetch (SUBGRAPH_TIMEOUT_MS unless the caller says otherwise). */
  timeoutMs: number;
  /** Merging and caching of caller-independent fetches (gateway/public-fetches.ts); none = every fetch goes out. */
  publicFetches?: PublicFetches;
  /**
   * The identity the gateway's credential carries for a context, instead of forwarding the
   * caller's Authorization (the partner endpoint: `partner:<name>`); undefined = forward as usual.
   */
  vouchFor?: (context: Partial<C>) => VouchedCaller | undefined;
  /**
   * A CLIENT span around each fetch, its `traceparent` injected into the request (default true).
   * The subscription executor turns it off: its per-event entity fetches run outside any request,
   * so every one of them would start a trace of its own.
   */
  clientSpans?: boolean;
}

type GatewayResponse = Awaited<ReturnType<GraphQLDataSource["process"]>>;
type Options<C> = GraphQLDataSourceProcessOptions<C & Record<string, any>>;
/** The options of a fetch made for a client's operation (not a health check or schema load); the enum is not exported. */
type IncomingOptions<C> = Extract<Options<C>, { incomingRequestContext: unknown }>;
const isIncoming = <C>(o: Options<C>): o is IncomingOptions<C> => "incomingRequestContext" in o && o.incomingRequestContext !== undefined;
const operationType = <C>(incoming: IncomingOptions<C> | null) => incoming?.incomingRequestContext.operation?.operation;

/**
 * The one data source from the gateway to a subgraph (the HTTP gateway, the partner endpoint and
 * the subscription executor's entity fetches): signs every request with the gateway's service
 * credential (subgraphs answer only signed callers), forwards the caller's Authorization and
 * request id — or, with `vouchFor`, signs a vouched identity into the credential instead — and
 * never retries (mutations move money).
 *
 * It does what @apollo/gateway's RemoteGraphQLDataSource does for us — same request body, same
 * errors for a non-2xx answer, the subgraph's cache-control applied to the overall cache policy —
 * without its per-fetch node-fetch `Headers` and `Request` objects (built on every call, the
 * Request only for error hooks) or a WHATWG `Response`: the answer is one buffer, parsed once
 * (docs/benchmarks.md "2026-12-02: lean path").
 */
export class SubgraphDataSource<C extends ForwardedCaller = ForwardedCaller> implements GraphQLDataSource<C & Record<string, any>> {
  private readonly post: SubgraphPost;
  private readonly ids = new SubgraphQueryIds();

  constructor(private readonly opts: SubgraphDataSourceOptions<C>) {
    this.post = subgraphPost(opts.name, opts.timeoutMs);
  }

  get url(): string {
    return this.opts.url;
  }

  async process(options: Options<C>): Promise<GatewayResponse> {
    const { request } = options;
    if (!request.query) throw new Error("Missing query");
    const context = (options.context ?? {}) as Partial<C>;
    const headers = await this.headersFor(request.http?.headers, context);
    const incoming = isIncoming(options) ? options : null;
    const withCredential = context.authorization !== undefined && context.authorization !== "";
    // The body RemoteGraphQLDataSource sends ({ query, variables, operationName, extensions }): by
    // id alone once this subgraph has the text, the text with its id until then (SubgraphQueryIds).
    const id = this.ids.enabled ? this.ids.idOf(request.query) : null;
    const bodyOf = (query: string | undefined, withId: boolean) =>
      JSON.stringify({
        query,
        variables: request.variables,
        operationName: request.operationName,
        extensions: withId ? { ...request.extensions, persistedQuery: { version: 1, sha256Hash: id } } : request.extensions,
      });
    if (id === null) return this.accept(await this.fetch(headers, bodyOf(request.query, false), incoming, withCredential), incoming);
    // Shared public fetches are keyed by what the answer depends on: the same with or without the text.
    const byId = bodyOf(undefined, true);
    if (this.ids.has(id)) {
      const answer = await this.fetch(headers, byId, incoming, withCredential);
      if (!refusedPersistedQuery(answer)) return this.accept(answer, incoming);
      // The subgraph lost the text (a restart, another instance behind its URL, its cache's limit): it
      // refused before parsing, so nothing ran and sending it again — a mutation too — is safe.
      this.ids.forget(id);
    }
    const answer = await this.fetch(headers, bodyOf(request.query, true), incoming, withCredential, byId);
    if (!refusedPersistedQuery(answer)) {
      if (answer.status >= 200 && answer.status < 300) this.ids.registered(id);
      return this.accept(answer, incoming);
    }
    // A subgraph with APQ turned off refuses any persistedQuery extension, text or not (nothing ran):
    // plain texts from now on.
    this.ids.disable();
    return this.accept(await this.fetch(headers, bodyOf(request.query, false), incoming, withCredential), incoming);
  }

  private accept(answer: SubgraphAnswer, incoming: IncomingOptions<C> | null): GatewayResponse {
    if (answer.status < 200 || answer.status >= 300) throw errorFromAnswer(this.opts.url, answer);
    const parsed = parseAnswer(answer);
    if (incoming) restrictCachePolicy(incoming.incomingRequestContext.overallCachePolicy, answer.headers["cache-control"]);
    return parsed;
  }

  /** The request's headers (plain lower-case names) with the service credential and what the caller forwards. */
  private async headersFor(planned: Iterable<[string, string]> | undefined, context: Partial<C>): Promise<Record<string, string>> {
    const headers: Record<string, string> = {};
    if (planned) for (const [k, v] of planned) headers[k.toLowerCase()] = v;
    headers["content-type"] = "application/json";
    const vouched = this.opts.vouchFor?.(context);
    if (vouched) {
      for (const [k, v] of Object.entries(vouched.headers ?? {})) headers[k.toLowerCase()] = v;
      headers[SERVICE_HEADER] = `Bearer ${await this.opts.signer.tokenFor(this.opts.name, vouched.identity)}`;
    } else {
      headers[SERVICE_HEADER] = await this.opts.signer.header(this.opts.name);
      if (context.authorization) headers.authorization = context.authorization;
    }
    if (context.requestId) headers["x-request-id"] = context.requestId;
    // The caller's trace, passed on as it came; a recorded client span (clientSpan) replaces it with its own.
    if (context.traceparent) headers.traceparent = context.traceparent;
    return headers;
  }

  /** Sends the fetch, or joins/reads a shared one for a query made without a user credential (public-fetches.ts). */
  private async fetch(headers: Record<string, string>, body: string, incoming: IncomingOptions<C> | null, withCredential: boolean, shareKey = body): Promise<SubgraphAnswer> {
    const { name, url, publicFetches } = this.opts;
    const send = () => (this.opts.clientSpans === false ? this.post(url, headers, body) : clientSpan(name, headers, () => this.post(url, headers, body)));
    if (!publicFetches || !incoming) return send();
    try {
      const shared = !withCredential && operationType(incoming) === "query";
      return shared ? await publicFetches.fetch(name, shareKey, cacheableFetch(name, incoming.document), send) : await send();
    } finally {
      // A mutation that may have changed a cached public answer (even one that failed in transit) drops it before its
      // caller hears back; other gateways hear the owner's NOTIFY.
      if (operationType(incoming) === "mutation" && invalidatingFetch(name, incoming.document)) publicFetches.invalidate(name);
    }
  }
}

/** Fetches sent again after a subgraph refused their persisted-query id (every SubgraphDataSource in the process; tests read it). */
export const subgraphQueryIdStats = { resent: 0 };

/**
 * Automatic persisted queries from the gateway to one subgraph (Apollo's APQ, which every subgraph's
 * Apollo Server accepts by default; what RemoteGraphQLDataSource does with `apq: true`). A planned
 * subgraph query is sent with its text once; after the subgraph has it, by its SHA-256 alone, so
 * the subgraph neither hashes the text (~2% of the wallet's busy CPU under sendGift, 2026-12-02
 * profile) nor reads and scans it again, and the request is smaller.
 *
 * Bounded: at most MAX_IDS texts are remembered (hashed once each); beyond that the memo starts
 * over, which costs one hash per text again, never a wrong answer. An id the subgraph no longer
 * knows answers PERSISTED_QUERY_NOT_FOUND before anything runs: the fetch is sent again with the text.
 */
export class SubgraphQueryIds {
  static readonly MAX_IDS = 10_000;
  private readonly ids = new Map<string, string>();
  /** Ids the subgraph has registered (it answered a fetch that carried the id with its text). */
  private readonly registeredIds = new Set<string>();
  /** False once the subgraph said it does not support persisted queries at all. */
  enabled = true;

  idOf(query: string): string {
    let id = this.ids.get(query);
    if (id === undefined) {
      if (this.ids.size >= SubgraphQueryIds.MAX_IDS) {
        this.ids.clear();
        this.registeredIds.clear();
      }
      id = createHash("sha256").update(query).digest("hex");
      this.ids.set(query, id);
    }
    return id;
  }

  has(id: string): boolean {
    return this.registeredIds.has(id);
  }

  registered(id: string): void {
    this.registeredIds.add(id);
  }

  forget(id: string): void {
    this.registeredIds.delete(id);
    subgraphQueryIdStats.resent++;
  }

  disable(): void {
    this.enabled = false;
    subgraphQueryIdStats.resent++;
  }
}

/** PERSISTED_QUERY_NOT_FOUND / _NOT_SUPPORTED: the subgraph refused the fetch before running anything. */
function refusedPersistedQuery(answer: SubgraphAnswer): boolean {
  // Searched in the bytes: every other answer is decoded and parsed once, by accept().
  if (answer.status < 200 || answer.status >= 300 || !isJson(answer) || !answer.body.includes("PERSISTED_QUERY_NOT_")) return false;
  const body = JSON.parse(answer.body.toString("utf8")) as { data?: unknown; errors?: { extensions?: { code?: unknown } }[] };
  return body.data === undefined && (body.errors ?? []).some((e) => e.extensions?.code === "PERSISTED_QUERY_NOT_FOUND" || e.extensions?.code === "PERSISTED_QUERY_NOT_SUPPORTED");
}

function contentType(answer: SubgraphAnswer): string {
  const t = answer.headers["content-type"];
  return typeof t === "string" ? t : "";
}

function isJson(answer: SubgraphAnswer): boolean {
  const t = contentType(answer);
  return t.startsWith("application/json") || t.startsWith("application/graphql-response+json");
}

function parseAnswer(answer: SubgraphAnswer): GatewayResponse {
  const text = answer.body.toString("utf8");
  const body: unknown = isJson(answer) ? JSON.parse(text) : text;
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new Error(`Expected JSON response body, but received: ${String(body)}`);
  return body as GatewayResponse;
}

/** RemoteGraphQLDataSource.errorFromResponse: `<status>: <statusText>`, the answer in `extensions.response`, 401/403 coded. */
function errorFromAnswer(url: string, answer: SubgraphAnswer): GraphQLError {
  const text = answer.body.toString("utf8");
  let body: unknown = text;
  if (isJson(answer)) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  const extensions: Record<string, unknown> = { response: { url, status: answer.status, statusText: answer.statusText, body } };
  if (answer.status === 401) extensions.code = "UNAUTHENTICATED";
  else if (answer.status === 403) extensions.code = "FORBIDDEN";
  return new GraphQLError(`${answer.status}: ${answer.statusText}`, { extensions });
}

type CachePolicy = { restrict(hint: { maxAge?: number; scope?: "PUBLIC" | "PRIVATE" }): void };

/** As RemoteGraphQLDataSource with honorSubgraphCacheControlHeader: the subgraph's cache-control narrows the response's policy. */
function restrictCachePolicy(policy: unknown, header: string | undefined): void {
  if (!policy || typeof policy !== "object" || !("restrict" in policy)) return;
  // @apollo/gateway's parseCacheControlHeader, as is.
  const cc: Record<string, string | true> = {};
  if (header) {
    for (const part of header.trim().split(/\s*,\s*/)) {
      const [k, v] = part.split(/\s*=\s*/, 2);
      cc[k] = v === undefined ? true : v.replace(/^"|"$/g, "");
    }
  }
  const hint: { maxAge: number; scope?: "PUBLIC" | "PRIVATE" } = { maxAge: 0 };
  const maxAge = cc["max-age"];
  if (typeof maxAge === "string" && /^[0-9]+$/.test(maxAge)) hint.maxAge = Number(maxAge);
  if (cc.private === true) hint.scope = "PRIVATE";
  if (cc.public === true) hint.scope = "PUBLIC";
  (policy as CachePolicy).restrict(hint);
}
