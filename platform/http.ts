import http, { type IncomingMessage, type ServerResponse } from "node:http";
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import { ApolloServer, HeaderMap, type ApolloServerOptions, type ApolloServerPlugin, type BaseContext } from "@apollo/server";
import { ApolloServerPluginDrainHttpServer } from "@apollo/server/plugin/drainHttpServer";
import { ApolloServerPluginInlineTraceDisabled, ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { unwrapResolverError } from "@apollo/server/errors";
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from "graphql";
import cors from "cors";
import { authFailure, GraphQLErrorCode } from "./codes.js";
import { loadConfig, loadMaxBodyBytes, loadMode } from "./config.js";
import { isTransientDatabaseError } from "./db.js";
import { DEFAULT_LIMITS, operationLimitsPlugin, preflight, type OperationLimits } from "./operation-limits.js";
import { logger } from "./logger.js";
import { requestLogPlugin } from "./request-log.js";
import { requestIdOf, tagErrors } from "./request-context.js";
import { acquireMetricsListener, metricsExposure, metricsPlugin, recordRefusal, serveMetrics } from "./metrics.js";
import { initTracing, withServerSpan } from "./tracing.js";

export const MAX_BODY_BYTES = loadMaxBodyBytes();

/** A plain route next to /graphql (health, webhooks). Return true when handled. */
export type Route = (req: IncomingMessage, res: ServerResponse, body: Buffer | null) => Promise<boolean> | boolean;

export class BodyTooLarge extends Error {}

/** Request headers browsers may send cross-origin (what Apollo Client, urql and our app send). */
export const CORS_ALLOWED_HEADERS = ["authorization", "content-type", "apollo-require-preflight", "x-apollo-operation-name", "x-request-id"];

export interface CorsPolicy {
  /** Exact origins, or `scheme://host:*` for any port of that host. */
  origins: string[];
  maxAgeSeconds: number;
}

/** Whether `origin` (the browser's Origin header) is on the allow-list. */
export function originAllowed(origin: string, patterns: readonly string[]): boolean {
  for (const p of patterns) {
    if (p === origin) return true;
    if (p.endsWith(":*")) {
      const base = p.slice(0, -2);
      if (origin === base || (origin.startsWith(`${base}:`) && /^\d{1,5}$/.test(origin.slice(base.length + 1)))) return true;
    }
  }
  return false;
}

/**
 * CORS for every HTTP server here (one implementation): allowed origins get the allow
 * headers and a cached preflight (204); anyone else gets none, so the browser refuses.
 * No credentials: callers authenticate with a bearer token, never cookies.
 */
export function corsHandler(policy: CorsPolicy): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const middleware = cors({
    origin: (origin, cb) => cb(null, origin !== undefined && originAllowed(origin, policy.origins) ? origin : false),
    methods: ["GET", "POST", "OPTIONS"],
    allowedHeaders: CORS_ALLOWED_HEADERS,
    exposedHeaders: ["x-request-id", "retry-after"],
    credentials: false,
    maxAge: policy.maxAgeSeconds,
    optionsSuccessStatus: 204,
  });
  return (req, res) =>
    new Promise<boolean>((resolve, reject) => {
      middleware(req, res, (err?: unknown) => (err ? reject(err) : resolve(false)));
      // A preflight is answered by the middleware itself (it never calls next).
      if (res.writableEnded) resolve(true);
    });
}

export function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      req.resume();
      reject(new BodyTooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners("data");
        req.resume();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/**
 * The client's address for per-address limits: the socket's peer, or, behind `trustedProxyHops`
 * proxies (TRUST_PROXY_HOPS), the address the outermost trusted one saw (X-Forwarded-For read from
 * the right, so a client cannot pick its own).
 */
export function clientAddress(req: IncomingMessage, trustedProxyHops: number): string {
  const peer = req.socket.remoteAddress ?? "unknown";
  if (!(trustedProxyHops > 0)) return peer;
  const forwarded = String(req.headers["x-forwarded-for"] ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  return forwarded[forwarded.length - trustedProxyHops] ?? forwarded[0] ?? peer;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

export function graphqlErrorBody(message: string, code: string): unknown {
  return { errors: [{ message, extensions: { code } }] };
}

/**
 * Masks unexpected errors: clients get a request id, never internals or stack traces.
 * Errors with a known code (ours or Apollo's validation codes) pass through unchanged.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const code = formatted.extensions?.code;
  const { stacktrace: _s, ...extensions } = (formatted.extensions ?? {}) as Record<string, unknown>;
  if (code === GraphQLErrorCode.InternalServerError || code === undefined) {
    const original = unwrapResolverError(error);
    // Errors forwarded from a subgraph already carry their code in `extensions`.
    const errorId = requestIdOf(error) ?? randomUUID();
    if (isTransientDatabaseError(original)) {
      // Overload or a dropped connection: retryable, so say so (money mutations are idempotent by key).
      logger.warn({ requestId: errorId, err: original instanceof Error ? original.message : String(original) }, "database temporarily unavailable");
      return {
        message: `Temporarily unavailable (request ${errorId}); retry shortly, with the same idempotencyKey for a mutation`,
        path: formatted.path,
        extensions: { code: GraphQLErrorCode.ServiceUnavailable, requestId: errorId },
      };
    }
    logger.error({ requestId: errorId, err: original instanceof Error ? { message: original.message, stack: original.stack } : String(original) }, "internal error");
    return { message: `Internal error (request ${errorId})`, path: formatted.path, extensions: { code: GraphQLErrorCode.InternalServerError, requestId: errorId } };
  }
  return { ...formatted, extensions };
}

/**
 * The settings every Apollo server here shares (a subgraph's, the partner endpoint's; the
 * gateway's sets the same): no stack traces, CSRF prevention, no schema hints in production,
 * errors masked by formatError, and the process, not Apollo, owns SIGINT/SIGTERM (runMain /
 * the supervisor stop in order; Apollo's own handler races them and hangs stop()).
 */
export function apolloDefaults<C extends BaseContext>(opts: { name: string; production: boolean; limits?: OperationLimits }) {
  return {
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false,
    csrfPrevention: true,
    // No "Did you mean …?" in production: suggestions reveal the schema.
    hideSchemaDetailsFromClientErrors: opts.production,
    formatError,
  } satisfies Partial<ApolloServerOptions<C>>;
}

/** The plugins of every request pipeline: operation limits, the request log line, metrics. */
export function pipelinePlugins<C extends BaseContext>(opts: { name: string; limits?: OperationLimits }): ApolloServerPlugin<C>[] {
  return [operationLimitsPlugin(opts.limits ?? DEFAULT_LIMITS), requestLogPlugin(opts.name), metricsPlugin(opts.name)];
}

export interface GraphQLRequestHandlerOptions<C extends BaseContext> {
  /** The service label (metrics, the server span). */
  name: string;
  apollo: ApolloServer<C>;
  /** Builds the per-request context; throw a GraphQLError with extensions.http to refuse the request. */
  context: (req: IncomingMessage, requestId: string) => Promise<C>;
  /**
   * Checks the parsed body (undefined for a GET: its operation is in `search`) before Apollo sees it
   * (token and batch limits, the gateway's persisted operations); an error refuses the request.
   */
  preflight?: (body: unknown, request: { method: string; search: URLSearchParams }) => GraphQLError | null;
  /** Request headers Apollo never sees (the partner endpoint drops a forwarded user token and cookies). */
  dropHeaders?: readonly string[];
}

/**
 * The one GraphQL-over-HTTP request pipeline (every server's /graphql and the partner endpoint):
 * parse the body, refuse it by the preflight, pick the request id (a well-formed `x-request-id`
 * or a new one), run Apollo (masked errors name that id: platform/request-context.ts) inside a server
 * span, and answer with `x-request-id`.
 */
export function graphqlRequestHandler<C extends BaseContext>(opts: GraphQLRequestHandlerOptions<C>): (req: IncomingMessage, res: ServerResponse, body: Buffer | null, url: URL) => Promise<void> {
  const drop = new Set(opts.dropHeaders ?? []);
  return async (req, res, body, url) => {
    const headers = new HeaderMap();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v !== undefined && !drop.has(k)) headers.set(k, Array.isArray(v) ? v.join(", ") : v);
    }
    let parsed: unknown = undefined;
    if (body && body.length > 0) {
      const type = headers.get("content-type") ?? "";
      if (type.includes("application/json") || type.includes("application/graphql-response+json")) {
        try {
          parsed = JSON.parse(body.toString("utf8"));
        } catch {
          sendJson(res, 400, graphqlErrorBody("request body is not valid JSON", GraphQLErrorCode.BadRequest));
          return;
        }
      } else {
        parsed = body.toString("utf8");
      }
    }
    const refused = opts.preflight?.(parsed, { method: (req.method ?? "GET").toUpperCase(), search: url.searchParams }) ?? null;
    if (refused) {
      const http = refused.extensions.http as { status?: number } | undefined;
      const { http: _h, ...extensions } = refused.extensions;
      recordRefusal(opts.name, String(refused.extensions.code ?? GraphQLErrorCode.BadRequest));
      sendJson(res, http?.status ?? 400, { errors: [{ message: refused.message, extensions }] });
      return;
    }
    const requestId = (typeof req.headers["x-request-id"] === "string" && /^[\w-]{1,64}$/.test(req.headers["x-request-id"]) ? req.headers["x-request-id"] : randomUUID());
    const result = await withServerSpan(req.headers, opts.name, () =>
      opts.apollo.executeHTTPGraphQLRequest({
        httpGraphQLRequest: { method: (req.method ?? "GET").toUpperCase(), headers, search: url.search, body: parsed },
        // A context failure is masked with this request's id too (Apollo reports it to no plugin).
        context: () =>
          opts.context(req, requestId).catch((e: unknown) => {
            tagErrors([e], requestId);
            throw e;
          }),
      }),
    );
    for (const [k, v] of result.headers) res.setHeader(k, v);
    res.setHeader("x-request-id", requestId);
    res.statusCode = result.status ?? 200;
    if (result.body.kind === "complete") {
      res.end(result.body.string);
      return;
    }
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  };
}

export interface GraphQLHttpServerOptions<C extends BaseContext> {
  name: string;
  schema?: GraphQLSchema;
  /** Builds the Apollo server for this HTTP server (the gateway builds its own). */
  apollo?: (httpServer: http.Server) => ApolloServer<C>;
  port: number;
  host?: string;
  /** Builds the per-request context; throw a GraphQLError with extensions.http to refuse the request. */
  context: (req: IncomingMessage, requestId: string) => Promise<C>;
  /** Extra routes, tried before /graphql. */
  routes?: Route[];
  /** Health: resolves true when the service's dependencies answer. */
  ready: () => Promise<boolean>;
  plugins?: ApolloServerPlugin<C>[];
  /** Called with the HTTP server before it listens (WebSocket servers attach here). */
  onServer?: (server: http.Server) => void | Promise<void>;
  /** Called when stopping, before Apollo drains (close subscriptions with a reason). */
  onStop?: () => Promise<void>;
  production?: boolean;
  path?: string;
  /**
   * Checks the parsed body (undefined for a GET: its operation is in `search`) before Apollo sees it
   * (token and batch limits, the gateway's persisted operations); an error refuses the request.
   * Without `apollo` (the subgraphs), defaults to platform/operation-limits.ts's preflight with `limits`.
   */
  preflight?: (body: unknown, request: { method: string; search: URLSearchParams }) => GraphQLError | null;
  /** Operation limits of the built-in Apollo server (subgraphs): the same as the gateway's by default. */
  limits?: OperationLimits;
  /** Browser origins allowed (default: CORS_ORIGINS from the config). */
  cors?: CorsPolicy;
  /** The public edge (the gateway): in production /metrics is not on this port without METRICS_TOKEN (platform/metrics.ts). */
  edge?: boolean;
}

export interface RunningServer {
  name: string;
  port: number;
  url: string;
  httpServer: http.Server;
  stop(): Promise<void>;
}

export async function startGraphQLHttpServer<C extends BaseContext>(opts: GraphQLHttpServerOptions<C>): Promise<RunningServer> {
  const httpServer = http.createServer();
  const production = opts.production ?? loadMode() === "production";
  const limits = opts.limits ?? DEFAULT_LIMITS;
  await initTracing({ service: opts.name });
  const metricsAt = metricsExposure({ edge: opts.edge ?? false, production });
  // Subgraphs are reachable without the gateway: they apply the same operation limits themselves.
  const checkBody = opts.preflight ?? (opts.apollo ? undefined : (body: unknown) => preflight(body, limits));
  const apollo = opts.apollo
    ? opts.apollo(httpServer)
    : new ApolloServer<C>({
      schema: opts.schema!,
      introspection: !production,
      ...apolloDefaults<C>({ name: opts.name, production, limits }),
      plugins: [
        ApolloServerPluginDrainHttpServer({ httpServer }),
        ApolloServerPluginInlineTraceDisabled(),
        ...pipelinePlugins<C>({ name: opts.name, limits }),
        ...(production ? [ApolloServerPluginLandingPageDisabled()] : []),
        ...(opts.plugins ?? []),
      ],
    });
  await apollo.start();
  const serveGraphQL = graphqlRequestHandler<C>({ name: opts.name, apollo, context: opts.context, preflight: checkBody });
  const path = opts.path ?? "/graphql";
  const config = opts.cors ? null : loadConfig();
  const applyCors = corsHandler(opts.cors ?? { origins: config!.corsOrigins, maxAgeSeconds: config!.corsMaxAgeSeconds });

  httpServer.on("request", (req: IncomingMessage, res: ServerResponse) => {
    handle(req, res).catch((err) => {
      logger.error({ err: err instanceof Error ? err.message : String(err) }, "request failed");
      if (!res.headersSent) sendJson(res, 500, graphqlErrorBody("internal error", GraphQLErrorCode.InternalServerError));
      else res.end();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (await applyCors(req, res)) return;
    if (req.method === "GET" && url.pathname === "/health") {
      sendJson(res, 200, { status: "ok", service: opts.name });
      return;
    }
    if (url.pathname === "/metrics" && (await serveMetrics(req, res, metricsAt))) return;
    if (req.method === "GET" && url.pathname === "/ready") {
      const ok = await opts.ready();
      sendJson(res, ok ? 200 : 503, { status: ok ? "ready" : "unavailable", service: opts.name });
      return;
    }
    let body: Buffer | null = null;
    if (req.method === "POST") {
      try {
        body = await readBody(req);
      } catch (e) {
        if (e instanceof BodyTooLarge) {
          recordRefusal(opts.name, GraphQLErrorCode.PayloadTooLarge);
          sendJson(res, 413, graphqlErrorBody(`request body exceeds ${MAX_BODY_BYTES} bytes`, GraphQLErrorCode.PayloadTooLarge), { connection: "close" });
          return;
        }
        throw e;
      }
    }
    for (const route of opts.routes ?? []) if (await route(req, res, body)) return;
    if (url.pathname !== path) {
      sendJson(res, 404, { error: "not found" });
      return;
    }
    await serveGraphQL(req, res, body, url);
  }

  await opts.onServer?.(httpServer);
  const metricsListener = acquireMetricsListener();
  await metricsListener?.url;
  await new Promise<void>((resolve, reject) => {
    // ws' WebSocketServer swallows EADDRINUSE: listen for it ourselves.
    httpServer.once("error", reject);
    httpServer.listen(opts.port, opts.host ?? "127.0.0.1", () => {
      httpServer.off("error", reject);
      resolve();
    });
  });
  const port = (httpServer.address() as AddressInfo).port;
  let stopping: Promise<void> | undefined;
  return {
    name: opts.name,
    port,
    url: `http://127.0.0.1:${port}${path}`,
    httpServer,
    stop() {
      stopping ??= (async () => {
        await opts.onStop?.();
        await apollo.stop(); // drains in-flight requests, then closes the server
        if (httpServer.listening) await new Promise<void>((r) => httpServer.close(() => r()));
        await metricsListener?.release();
      })();
      return stopping;
    },
  };
}

// Built in platform/codes.ts with every other code; re-exported for existing callers.
export { authFailure };
