import type { IncomingMessage } from "node:http";
import { GraphQLError, getOperationAST, parse, validate, type DocumentNode, type ExecutionArgs, type GraphQLSchema } from "graphql";
import type { Context, SubscribePayload } from "graphql-ws";
import { WebSocketServer, type ServerOptions, type WebSocket } from "ws";
import type { WsLimitSettings } from "./config.js";
import { clientAddress } from "./http.js";
import { LimitCode, limitError, parseFailed, validationFailed, withoutHttp, WsCloseCode } from "./codes.js";
import { checkShape, countTokens, DEFAULT_LIMITS, hideSuggestions, measureOperation, type OperationLimits } from "./operation-limits.js";
import { logger } from "./logger.js";
import { fullBucket, takeToken, type Bucket, type BucketRule } from "./token-bucket.js";

/**
 * The bounds of every graphql-ws endpoint, in one place: the gateway's /graphql and
 * /partner/graphql and the earnings stream server each build their WebSocketServer here and
 * spread `graphqlWsOptions()` into `useServer`, and call `identify()` once a socket is
 * authenticated. Nothing else is needed at an endpoint.
 *
 *  - message size: ws's `maxPayload` (the frame header is checked before the body is read), close 1009
 *  - no connection_init in time: graphql-ws's timer, close 4408
 *  - sockets per client address (from the upgrade on, before authentication) and per user (after), close 4429;
 *    one guard per process, shared by its endpoints, so both gateway endpoints count together
 *  - pings (graphql-ws `ping` messages and WebSocket ping frames) beyond a token bucket, close 1008
 *  - per subscribe: subscriptions on the socket (TOO_MANY_SUBSCRIPTIONS, socket kept open) and
 *    the operation limits of platform/operation-limits.ts, the same code and codes as HTTP
 */
export interface WsGuardOptions {
  settings: WsLimitSettings;
  /** Operation limits, the same as the endpoint's HTTP ones. */
  limits?: OperationLimits;
  trustProxyHops: number;
  /** Validation messages without "Did you mean" (as Apollo's hideSchemaDetailsFromClientErrors). */
  production: boolean;
  /**
   * Which operations may run on the sockets of some paths (the gateway's persisted operations on
   * /graphql, gateway/persisted-operations.ts): the payload to run (e.g. its text filled in from an
   * id), or the error to answer — the same rule as on HTTP, applied before the operation is parsed.
   */
  operations?: { paths: readonly string[]; resolve(payload: SubscribePayload): SubscribePayload | GraphQLError };
}

interface SocketState {
  address: string;
  /** The upgrade request's path (which endpoint the socket belongs to). */
  path: string;
  principal?: string;
  pings: Bucket;
}

export class WsGuard {
  readonly settings: WsLimitSettings;
  readonly limits: OperationLimits;
  private readonly perAddress = new Map<string, number>();
  private readonly perPrincipal = new Map<string, number>();
  private readonly states = new WeakMap<WebSocket, SocketState>();
  /** Counters for tests and metrics. */
  readonly stats = { refusedAddress: 0, refusedUser: 0, pingFloods: 0, refusedSubscriptions: 0 };

  constructor(private readonly opts: WsGuardOptions) {
    this.settings = opts.settings;
    this.limits = opts.limits ?? DEFAULT_LIMITS;
  }

  /** A WebSocketServer with the message bound and connection admission (per-address cap, ping frames). */
  webSocketServer(options: ServerOptions): WebSocketServer {
    const wss = new WebSocketServer({ ...options, maxPayload: this.settings.maxMessageBytes });
    // Registered before useServer's own listener: a refused socket is closing before graphql-ws sees it.
    wss.on("connection", (socket: WebSocket, request: IncomingMessage) => this.admit(socket, request));
    return wss;
  }

  /** Open sockets of one user (tests, metrics). */
  socketsOf(principal: string): number {
    return this.perPrincipal.get(principal) ?? 0;
  }

  private admit(socket: WebSocket, request: IncomingMessage): void {
    const path = (request.url ?? "/").split("?")[0];
    const state: SocketState = { address: clientAddress(request, this.opts.trustProxyHops), path, pings: fullBucket(this.pingRule(), Date.now()) };
    // graphql-ws logs every socket error with console.error (an oversize message would print a
    // line per attempt, synchronously): swap its listener, once every connection listener has run.
    queueMicrotask(() => quietErrors(socket));
    const n = this.perAddress.get(state.address) ?? 0;
    if (n >= this.settings.maxSocketsPerAddress) {
      this.stats.refusedAddress++;
      socket.close(WsCloseCode.RateLimited, `Too many connections from this address (at most ${this.settings.maxSocketsPerAddress}); close one or retry later`);
      return;
    }
    this.perAddress.set(state.address, n + 1);
    this.states.set(socket, state);
    socket.on("ping", () => this.ping(socket));
    socket.once("close", () => this.release(socket, state));
  }

  private release(socket: WebSocket, state: SocketState): void {
    decrement(this.perAddress, state.address);
    if (state.principal) decrement(this.perPrincipal, state.principal);
    this.states.delete(socket);
  }

  /**
   * Counts an authenticated socket against its user's cap (`principal`: the user id, or
   * `partner:<name>`). Returns false, after closing the socket with 4429, when over the cap.
   */
  identify(socket: WebSocket, principal: string): boolean {
    const state = this.states.get(socket);
    if (!state) return false; // refused at admission, or already closed
    if (state.principal) return true;
    const n = this.perPrincipal.get(principal) ?? 0;
    if (n >= this.settings.maxSocketsPerUser) {
      this.stats.refusedUser++;
      socket.close(WsCloseCode.RateLimited, `Too many connections for this user (at most ${this.settings.maxSocketsPerUser}); close one or retry later`);
      return false;
    }
    state.principal = principal;
    this.perPrincipal.set(principal, n + 1);
    return true;
  }

  /** Pings per socket: a burst of max(5, perMinute/6), refilled at perMinute. */
  private pingRule(): BucketRule {
    const perMinute = this.settings.maxPingsPerMinute;
    return { capacity: Math.max(5, Math.ceil(perMinute / 6)), refillPerSecond: perMinute / 60 };
  }

  /** Takes a token from the socket's ping bucket; an empty bucket closes it (1008). */
  private ping(socket: WebSocket): void {
    const state = this.states.get(socket);
    if (!state) return;
    if (takeToken(this.pingRule(), state.pings, Date.now()) === 0) return;
    this.stats.pingFloods++;
    socket.close(WsCloseCode.PolicyViolation, `Too many pings (at most ${this.settings.maxPingsPerMinute} per minute)`);
  }

  /**
   * The graphql-ws `useServer` options every endpoint spreads in: the init timeout, ping
   * counting and the per-subscribe checks. `onSubscribe` parses and validates the operation
   * itself (once), so graphql-ws does not parse it again.
   */
  graphqlWsOptions<P extends Record<string, unknown> | undefined, E extends { socket: WebSocket }>(schema: () => GraphQLSchema) {
    return {
      connectionInitWaitTimeout: this.settings.initTimeoutMs,
      onPing: (ctx: Context<P, E>) => this.ping(ctx.extra.socket),
      onSubscribe: (ctx: Context<P, E>, _id: string, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] => {
        // graphql-ws has already registered this id: the count includes the new subscription.
        const active = Object.keys(ctx.subscriptions).length;
        if (active > this.settings.maxSubscriptionsPerSocket) {
          this.stats.refusedSubscriptions++;
          return [withoutHttp(limitError(LimitCode.TOO_MANY_SUBSCRIPTIONS, `at most ${this.settings.maxSubscriptionsPerSocket} subscriptions per connection; complete one first`, { limit: this.settings.maxSubscriptionsPerSocket }))];
        }
        const gate = this.opts.operations;
        if (gate) {
          const state = this.states.get(ctx.extra.socket);
          if (state && gate.paths.includes(state.path)) {
            const resolved = gate.resolve(payload);
            if (resolved instanceof GraphQLError) return [withoutHttp(resolved)];
            payload = resolved;
          }
        }
        return this.checkOperation(schema(), payload);
      },
    };
  }

  /** Tokens, syntax, validation and shape of one subscribe payload: ExecutionArgs, or the errors to send. */
  checkOperation(schema: GraphQLSchema, payload: SubscribePayload): ExecutionArgs | readonly GraphQLError[] {
    const { maxTokens } = this.limits;
    if (countTokens(payload.query, maxTokens) > maxTokens) {
      return [withoutHttp(limitError(LimitCode.TOO_MANY_TOKENS, `the query has more than ${maxTokens} tokens`, { limit: maxTokens }))];
    }
    let document: DocumentNode;
    try {
      document = parse(payload.query, { maxTokens });
    } catch (e) {
      // graphql-ws itself would let the syntax error escape and close the socket with 4500.
      const message = e instanceof GraphQLError ? e.message : "the query could not be parsed";
      return [parseFailed(message)];
    }
    const invalid = validate(schema, document);
    if (invalid.length > 0) {
      return invalid.map((e) => validationFailed(this.opts.production ? hideSuggestions(e.message) : e.message, { nodes: e.nodes }));
    }
    const variables = (payload.variables ?? {}) as Record<string, unknown>;
    const operation = getOperationAST(document, payload.operationName ?? undefined);
    if (operation) {
      const refused = checkShape(measureOperation(schema, document, operation, variables, this.limits.listDefault), this.limits);
      if (refused) return [withoutHttp(refused)];
    }
    return { schema, document, operationName: payload.operationName, variableValues: variables };
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 1) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/**
 * ws has already closed the socket with the right code (1009, 1002, 1007) when it emits
 * 'error' for a bad frame; all that is left is to log it, once, at debug.
 */
function quietErrors(socket: WebSocket): void {
  socket.removeAllListeners("error");
  socket.on("error", (err: Error & { code?: string }) => logger.debug({ code: err.code, err: err.message }, "websocket client error"));
}
