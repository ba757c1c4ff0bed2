import { readFileSync } from "node:fs";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { ApolloGateway } from "@apollo/gateway";
import { ApolloServer, type ApolloServerPlugin } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { TokenVerifier } from "../../platform/auth.js";
import { loadConfig } from "../../platform/config.js";
import { apolloDefaults, clientAddress, graphqlRequestHandler, pipelinePlugins, sendJson, type Route } from "../../platform/http.js";
import { logger } from "../../platform/logger.js";
import { incomingTraceparent } from "../../platform/tracing.js";
import { PgListener } from "../../platform/pg-listener.js";
import { ServiceSigner } from "../../platform/service-auth.js";
import { SubgraphDataSource, type VouchedCaller } from "../data-source.js";
import { schemaDir, type SubgraphName, type SubgraphUrls } from "../config.js";
import { DEFAULT_LIMITS, preflight, type OperationLimits } from "../../platform/operation-limits.js";
import { authFailure, badRequest, GraphQLErrorCode, rateLimited, rateLimitError, unauthenticated, validationFailed, WsCloseCode } from "../../platform/codes.js";
import type { WsGuard } from "../../platform/ws-socket-limits.js";
import { TokenBuckets, type BucketRule } from "../../platform/token-bucket.js";
import { SubscriptionGateway } from "../subscriptions/server.js";
import { PARTNER_KEY_CHANNEL, PartnerKeyStore, type AuthenticatedKey } from "./keys.js";
import type WebSocket from "ws";

export const PARTNER_PATH = "/partner/graphql";
/** The partner endpoint's service label (metrics, request log, server spans). */
const PARTNER_SERVICE = "gateway-partner";

export interface PartnerContext {
  key: AuthenticatedKey;
  requestId: string;
  /** The caller's W3C traceparent, passed on to the subgraphs (platform/tracing.ts). */
  traceparent?: string;
}

/** The committed contract supergraph (schema/contracts/partner.supergraph.graphql). */
export function readPartnerSupergraph(): string {
  return readFileSync(`${schemaDir()}contracts/partner.supergraph.graphql`, "utf8");
}

/**
 * Partner calls reach the subgraphs with the gateway's service credential carrying the partner's
 * identity (`partner:<name>`, only the `partner` role: public data, plus the partner's own webhook
 * subscriptions in earnings), tagged with the key id for tracing. No retries: the same rule as the
 * main gateway.
 */
function vouchForPartner({ key }: Partial<PartnerContext>): VouchedCaller | undefined {
  if (!key) return undefined;
  return {
    identity: { sub: `partner:${key.partner}`, name: key.partner, roles: ["partner"], region: "US", adult: false, exp: Math.floor(Date.now() / 1000) + 60 },
    headers: { "x-partner-key-id": key.keyId },
  };
}

/**
 * graphql-js validation does not reject an operation type the schema lacks (the
 * contract has no Mutation), and the gateway would answer it with a 500: refuse it
 * as the validation error it is. Subscriptions are for graphql-ws, not HTTP.
 */
const contractOperationsOnly: ApolloServerPlugin<PartnerContext> = {
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, schema }) {
        if (!operation) return;
        if (!schema.getRootType(operation.operation)) {
          throw validationFailed(`the partner API has no ${operation.operation} operations`, { httpStatus: 400 });
        }
        if (operation.operation === "subscription") {
          throw badRequest("subscriptions are served over graphql-ws on this path, not over HTTP", 400);
        }
      },
    };
  },
};

export interface PartnerEndpointOptions {
  /** The contract's supergraph; defaults to the committed one. */
  supergraphSdl?: string;
  subgraphUrls: SubgraphUrls;
  /** Where the `partners` schema lives; without it the endpoint answers 503. */
  databaseUrl?: string;
  migrate?: boolean;
  production: boolean;
  /**
   * How often open partner WebSockets re-check their key anyway (default 30 s): the safety net
   * under the revocation NOTIFY, which ends them within about a second on every instance.
   */
  revalidateMs?: number;
  /** The gateway's service credential signer (default: from config). */
  signer?: ServiceSigner;
  /** Operation limits (depth, aliases, cost, tokens), the same as the main endpoint's by default. */
  limits?: OperationLimits;
  /** Requests with an unknown, invalid or revoked key allowed per client address (default 30, then 1 per 2 s). */
  invalidKeyLimit?: BucketRule;
  /** The gateway's WebSocket bounds (shared with /graphql: per-user and per-address caps count across both). */
  wsGuard: WsGuard;
  /** TRUST_PROXY_HOPS, for the client address of per-address limits. */
  trustProxyHops: number;
}

const INVALID_KEY = "invalid API key";

const keyRateMessage = (key: AuthenticatedKey, retryAfterSeconds: number) =>
  `rate limit of ${key.ratePerMinute} requests per minute exceeded; retry in ${retryAfterSeconds}s`;

export interface PartnerEndpoint {
  route: Route;
  /** graphql-ws on the same path (the public live gift feed). */
  attach(http: Server): void;
  /** Closes partner WebSockets with a reason (before the HTTP server drains). */
  closeStreams(): Promise<void>;
  subscriptions: SubscriptionGateway | null;
  store: PartnerKeyStore | null;
  stop(): Promise<void>;
}

/**
 * `/partner/graphql`: the partner contract served by its own ApolloGateway built from
 * the contract supergraph, so anything outside the contract fails validation and
 * introspection shows only the contract. Every request needs a valid `x-api-key` and
 * spends one unit of that key's rate limit before anything is parsed.
 */
export async function startPartnerEndpoint(opts: PartnerEndpointOptions): Promise<PartnerEndpoint> {
  if (!opts.databaseUrl) {
    return {
      store: null,
      route: (req, res) => {
        if (new URL(req.url ?? "/", "http://localhost").pathname !== PARTNER_PATH) return false;
        sendJson(res, 503, { errors: [{ message: "the partner API is not configured on this gateway (no DATABASE_URL)", extensions: { code: GraphQLErrorCode.ServiceUnavailable } }] });
        return true;
      },
      attach: () => undefined,
      closeStreams: async () => undefined,
      subscriptions: null,
      stop: async () => undefined,
    };
  }
  const store = await PartnerKeyStore.open(opts.databaseUrl, { migrate: opts.migrate });
  const signer = opts.signer ?? new ServiceSigner(loadConfig(), "gateway");
  const supergraphSdl = opts.supergraphSdl ?? readPartnerSupergraph();
  const limits = opts.limits ?? DEFAULT_LIMITS;
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) =>
      new SubgraphDataSource<PartnerContext>({
        name,
        url: opts.subgraphUrls[name as SubgraphName] ?? url!,
        signer,
        timeoutMs: loadConfig().subgraphTimeoutMs,
        vouchFor: vouchForPartner,
      }),
  });
  const apollo = new ApolloServer<PartnerContext>({
    gateway,
    // The contract is the published partner API: partners generate clients from it.
    introspection: true,
    ...apolloDefaults<PartnerContext>({ name: PARTNER_SERVICE, production: opts.production, limits }),
    plugins: [contractOperationsOnly, ...pipelinePlugins<PartnerContext>({ name: PARTNER_SERVICE, limits }), ...(opts.production ? [ApolloServerPluginLandingPageDisabled()] : [])],
  });
  try {
    await apollo.start();
  } catch (e) {
    await store.close();
    throw e;
  }

  // Each bad key costs a lookup: an address that keeps presenting them is refused before any (in memory, per instance).
  const badKeys = new TokenBuckets({ [INVALID_KEY]: opts.invalidKeyLimit ?? { capacity: 30, refillPerSecond: 0.5 } });
  const authenticateFrom = async (address: string, presented: string | undefined) => {
    const wait = badKeys.peek(address, INVALID_KEY);
    if (wait > 0) return { ok: false as const, reason: "blocked" as const, retryAfterSeconds: wait };
    const auth = await store.authenticate(presented);
    if (!auth.ok && auth.reason !== "missing") badKeys.take(address, INVALID_KEY);
    return auth;
  };

  async function context(req: IncomingMessage, requestId: string): Promise<PartnerContext> {
    const header = req.headers["x-api-key"];
    const auth = await authenticateFrom(clientAddress(req, opts.trustProxyHops), typeof header === "string" ? header : undefined);
    if (!auth.ok) {
      if (auth.reason === "blocked") throw rateLimitError(INVALID_KEY, auth.retryAfterSeconds);
      if (auth.reason === "missing") throw authFailure("an API key is required in the x-api-key header");
      if (auth.reason === "revoked") throw authFailure("this API key has been revoked or has expired");
      throw authFailure("invalid API key");
    }
    const decision = await store.consume(auth.key);
    if (!decision.allowed) {
      throw rateLimited(keyRateMessage(auth.key, decision.retryAfterSeconds), decision.retryAfterSeconds);
    }
    return { key: auth.key, requestId, traceparent: incomingTraceparent(req.headers) };
  }

  // The one request pipeline (platform/http.ts): masked errors name the x-request-id, server span,
  // refusal metrics. Partners are not users: a forwarded user token or cookie must not change what they see.
  const serve = graphqlRequestHandler<PartnerContext>({ name: PARTNER_SERVICE, apollo, context, preflight: (body) => preflight(body, limits), dropHeaders: ["authorization", "cookie"] });
  const route: Route = async (req: IncomingMessage, res: ServerResponse, body: Buffer | null) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    if (url.pathname !== PARTNER_PATH) return false;
    await serve(req, res, body, url);
    return true;
  };

  /**
   * graphql-ws on /partner/graphql with the stream engineer's executor, planned against
   * the contract. Partners send `{ "x-api-key": ... }` in connection_init (browsers cannot
   * set WebSocket headers); each connection spends one unit of the key's rate limit.
   * Upstream, the gateway's service credential vouches for the partner's identity
   * (`partner:<name>`, role viewer, not adult): the public feed only needs a signed-in caller.
   *
   * Revocation: a trigger NOTIFYs `partner_key_changed` (key id) at the commit of a
   * revocation, rotation or deletion; every instance LISTENs and re-checks that key's open
   * sockets at once (4401 when it is no longer active). A new subscription re-checks its key
   * in the database first, so it is refused even before the notification arrives. While the
   * listener was down, every open socket is re-checked when it is back; the periodic re-check
   * stays as the last safety net.
   */
  const revalidateMs = opts.revalidateMs ?? 30_000;
  const socketKeys = new WeakMap<object, AuthenticatedKey>();
  /** Open partner sockets by key uuid. */
  const openSockets = new Map<string, Set<WebSocket>>();
  /** A key in its rotation grace period: re-checked when the grace ends. */
  const graceTimers = new Map<string, NodeJS.Timeout>();
  const revokedClose = (socket: WebSocket) => socket.close(WsCloseCode.Unauthenticated, "Unauthorized: API key revoked or expired");
  const recheck = async (keyUuid: string): Promise<void> => {
    const sockets = openSockets.get(keyUuid);
    if (!sockets?.size) return;
    const active = await store.activeUntil(keyUuid);
    if (!active) {
      for (const socket of [...sockets]) revokedClose(socket);
      return;
    }
    if (active.expiresAt && !graceTimers.has(keyUuid)) {
      const timer = setTimeout(() => {
        graceTimers.delete(keyUuid);
        void recheck(keyUuid).catch((err: unknown) => logger.warn({ err: String(err) }, "partner key re-check failed"));
      }, Math.min(2 ** 31 - 1, Math.max(0, active.expiresAt.getTime() - Date.now()) + 50));
      timer.unref();
      graceTimers.set(keyUuid, timer);
    }
  };
  const recheckAll = () =>
    Promise.all([...openSockets.keys()].map((k) => recheck(k))).catch((err: unknown) => logger.warn({ err: String(err) }, "partner key re-check failed"));
  const listener = new PgListener({
    databaseUrl: opts.databaseUrl,
    channel: PARTNER_KEY_CHANNEL,
    name: "gateway-partner-keys",
    onNotify: (keyId) => {
      for (const [keyUuid, sockets] of openSockets) {
        const key = sockets.size ? socketKeys.get(sockets.values().next().value!) : undefined;
        if (key?.keyId === keyId) void recheck(keyUuid).catch((err: unknown) => logger.warn({ err: String(err) }, "partner key re-check failed"));
      }
    },
    // Notifications sent while not listening are lost: re-check everything open.
    onListening: () => void recheckAll(),
  });
  await listener.start();
  const periodic = setInterval(() => void recheckAll(), revalidateMs);
  periodic.unref();
  const subscriptions = new SubscriptionGateway({
    supergraphSdl,
    urls: { ...opts.subgraphUrls },
    verifier: new TokenVerifier(),
    signer,
    path: PARTNER_PATH,
    guard: opts.wsGuard,
    authenticate: async (params, socket, request) => {
      const raw = params?.["x-api-key"] ?? params?.apiKey;
      const presented = typeof raw === "string" ? raw : undefined;
      const auth = await authenticateFrom(request ? clientAddress(request, opts.trustProxyHops) : "unknown", presented);
      if (!auth.ok && auth.reason === "blocked") {
        socket.close(WsCloseCode.RateLimited, `Rate limited: too many invalid API keys; retry in ${auth.retryAfterSeconds}s`);
        return null;
      }
      if (!auth.ok) {
        const why = auth.reason === "missing" ? 'send connection_init { "x-api-key": "<key>" }' : auth.reason === "revoked" ? "API key revoked or expired" : "invalid API key";
        socket.close(WsCloseCode.Unauthenticated, `Unauthorized: ${why}`);
        return null;
      }
      const decision = await store.consume(auth.key);
      if (!decision.allowed) {
        socket.close(WsCloseCode.RateLimited, `Rate limited: retry in ${decision.retryAfterSeconds}s`);
        return null;
      }
      socketKeys.set(socket, auth.key);
      let sockets = openSockets.get(auth.key.id);
      if (!sockets) openSockets.set(auth.key.id, (sockets = new Set()));
      sockets.add(socket);
      socket.once("close", () => {
        sockets.delete(socket);
        if (sockets.size === 0 && openSockets.get(auth.key.id) === sockets) {
          openSockets.delete(auth.key.id);
          clearTimeout(graceTimers.get(auth.key.id));
          graceTimers.delete(auth.key.id);
        }
      });
      // Revoked between the lookup and now (its NOTIFY may have come before the socket was registered).
      await recheck(auth.key.id);
      if (socket.readyState !== socket.OPEN) return null;
      const exp = Math.floor(Date.now() / 1000) + 12 * 3600;
      return {
        authorization: undefined,
        identity: { sub: `partner:${auth.key.partner}`, name: auth.key.partner, roles: ["viewer"], region: "US", adult: false, exp },
        exp,
        // Counted per partner against WS_MAX_SOCKETS_PER_USER, like a user (and as earnings sees it upstream).
        principal: `partner:${auth.key.partner}`,
      };
    },
    // Each subscription spends a unit too: one socket must not open unlimited upstream streams.
    beforeSubscribe: async (socket) => {
      const key = socketKeys.get(socket);
      if (!key) return unauthenticated("not authenticated");
      // Refused at once after a revocation, on every instance, whether or not its NOTIFY arrived yet.
      if (!(await store.activeUntil(key.id))) {
        revokedClose(socket);
        return unauthenticated("this API key has been revoked or has expired");
      }
      const decision = await store.consume(key);
      if (decision.allowed) return null;
      return rateLimited(keyRateMessage(key, decision.retryAfterSeconds), decision.retryAfterSeconds, { http: false });
    },
  });
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => subscriptions.onSchema(coreSupergraphSdl));

  let streamsClosed: Promise<void> | undefined;
  const closeStreams = () => (streamsClosed ??= subscriptions.stop());
  logger.info({ path: PARTNER_PATH }, "partner contract endpoint ready");
  return {
    route,
    store,
    subscriptions,
    attach: (http) => subscriptions.attach(http),
    closeStreams,
    async stop() {
      clearInterval(periodic);
      for (const t of graceTimers.values()) clearTimeout(t);
      await listener.stop();
      await closeStreams();
      await apollo.stop();
      await store.close();
    },
  };
}
