import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { GraphQLError } from "graphql";
import { SERVICE_HEADER, type ServiceSigner } from "../platform/service-auth.js";
import { clientSpan } from "../platform/tracing.js";
import { subgraphPost, type SubgraphAnswer, type SubgraphPost } from "./fetcher.js";
import { cacheableFetch, invalidatingFetch, type PublicFetches } from "./public-fetches.js";

/** What the gateway's data sources read from the per-request context. */
export interface ForwardingContext {
  /** The caller's Authorization header, forwarded as is (subgraphs verify it again and authorize by it). */
  authorization?: string;
  requestId?: string;
}

type GatewayResponse = Awaited<ReturnType<GraphQLDataSource["process"]>>;
type Options = GraphQLDataSourceProcessOptions<ForwardingContext & Record<string, any>>;
/** The options of a fetch made for a client's operation (not a health check or schema load); the enum is not exported. */
type IncomingOptions = Extract<Options, { incomingRequestContext: unknown }>;
const isIncoming = (o: Options): o is IncomingOptions => "incomingRequestContext" in o && o.incomingRequestContext !== undefined;

export interface SubgraphDataSourceOptions {
  name: string;
  url: string;
  signer: ServiceSigner;
  timeoutMs: number;
  /** Merging and caching of caller-independent fetches (gateway/public-fetches.ts); none = every fetch goes out. */
  publicFetches?: PublicFetches;
}

/**
 * The gateway's subgraph data source: signs every request with the gateway's service credential
 * (subgraphs answer only signed callers), forwards the caller's Authorization and request id, and
 * never retries (mutations move money). It does what @apollo/gateway's RemoteGraphQLDataSource does
 * for us — same request body, same errors for a non-2xx answer, the subgraph's cache-control
 * applied to the overall cache policy — without its per-fetch node-fetch `Headers` and `Request`
 * objects (built on every call, the Request only for error hooks) or a WHATWG `Response`: the
 * answer is one buffer, parsed once (docs/benchmarks.md "2026-12-02: lean path").
 */
export class SubgraphDataSource implements GraphQLDataSource<ForwardingContext & Record<string, any>> {
  private readonly post: SubgraphPost;

  constructor(private readonly opts: SubgraphDataSourceOptions) {
    this.post = subgraphPost(opts.name, opts.timeoutMs);
  }

  get url(): string {
    return this.opts.url;
  }

  async process(options: Options): Promise<GatewayResponse> {
    const { request } = options;
    if (!request.query) throw new Error("Missing query");
    const context = (options.context ?? {}) as ForwardingContext;
    const headers: Record<string, string> = {};
    if (request.http?.headers) for (const [k, v] of request.http.headers) headers[k.toLowerCase()] = v;
    headers["content-type"] = "application/json";
    headers[SERVICE_HEADER] = await this.opts.signer.header(this.opts.name);
    if (context.authorization) headers.authorization = context.authorization;
    if (context.requestId) headers["x-request-id"] = context.requestId;
    // The body RemoteGraphQLDataSource sends: { query, variables, operationName, extensions }.
    const body = JSON.stringify({ query: request.query, variables: request.variables, operationName: request.operationName, extensions: request.extensions });
    const incoming = isIncoming(options) ? options : null;
    const shared = this.opts.publicFetches && incoming && !context.authorization && incoming.incomingRequestContext.operation?.operation === "query";
    const send = () => clientSpan(this.opts.name, headers, () => this.post(this.opts.url, headers, body));
    const publicFetches = this.opts.publicFetches;
    let answer: SubgraphAnswer;
    try {
      answer = shared ? await publicFetches!.fetch(this.opts.name, body, cacheableFetch(this.opts.name, incoming.document), send) : await send();
    } finally {
      // A mutation that may have changed a cached public answer (even one that failed in transit) drops it before its
      // caller hears back; other gateways hear the owner's NOTIFY.
      if (publicFetches && incoming?.incomingRequestContext.operation?.operation === "mutation" && invalidatingFetch(this.opts.name, incoming.document)) publicFetches.invalidate(this.opts.name);
    }
    if (answer.status < 200 || answer.status >= 300) throw errorFromAnswer(this.opts.url, answer);
    const parsed = parseAnswer(answer);
    if (incoming) restrictCachePolicy(incoming.incomingRequestContext.overallCachePolicy, answer.headers["cache-control"]);
    return parsed;
  }
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
