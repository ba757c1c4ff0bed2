import { Supergraph, operationFromDocument, type Schema } from "@apollo/federation-internals";
import { QueryPlanner, type FetchNode, type PlanNode, type QueryPlan } from "@apollo/query-planner";
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource, type ServiceMap } from "@apollo/gateway";
import { badRequest, GraphQLErrorCode } from "../../platform/codes.js";
import { loadConfig } from "../../platform/config.js";
import { ServiceSigner } from "../../platform/service-auth.js";
import { SubgraphDataSource } from "../data-source.js";
import { CALLER_INDEPENDENT_FIELDS, SharedEntityFetches } from "./shared-fetches.js";
import { GraphQLError, print, type DocumentNode, type ExecutionResult, type GraphQLSchema } from "graphql";

/** What the executor needs from the caller of one subscription. */
export interface SubscriptionRequestContext {
  authorization: string | undefined;
  requestId: string;
}

/** BAD_REQUEST for a query or mutation sent over WebSocket. */
export const ONLY_SUBSCRIPTIONS = "only subscriptions are served over WebSocket; send queries and mutations over HTTP";

/** A planned subscription: the root fetch runs on the owning subgraph, `rest` per event. */
export interface PlannedSubscription {
  primary: FetchNode;
  rest?: PlanNode;
  document: DocumentNode;
  /** The printed document, once per plan (not once per event). */
  query: string;
  operationName: string | undefined;
  operationContext: ReturnType<typeof buildOperationContext>;
}

export type DataSourceFactory = (name: string, url: string) => GraphQLDataSource;

let defaultSigner: ServiceSigner | undefined;

/**
 * Entity fetches per event go through the gateway's one subgraph data source (keep-alive node:http,
 * timeout, no retry). No client spans: an event's fetches belong to no request's trace. The cache
 * policy it narrows is the executor's no-op one (a stream result is never HTTP-cached).
 */
export const defaultDataSource: DataSourceFactory = (name, url) =>
  new SubgraphDataSource<SubscriptionRequestContext>({
    name,
    url,
    signer: (defaultSigner ??= new ServiceSigner(loadConfig(), "gateway")),
    timeoutMs: loadConfig().subgraphTimeoutMs,
    clientSpans: false,
  });

/**
 * The federated-subscription executor, for one supergraph (built again on every schema
 * load): @apollo/gateway plans subscriptions but refuses to execute them, so we run the
 * plan's primary fetch on the owning subgraph ourselves (see server.ts) and, for every
 * event, execute `Sequence[primary-as-seed, rest]` with the gateway's own executeQueryPlan:
 * fields owned by other subgraphs (the catalog's gift name, image, animation) arrive
 * filled in exactly as on HTTP.
 */
export class SubscriptionExecutor {
  readonly apiSchema: GraphQLSchema;
  private readonly api: Schema;
  private readonly supergraphSchema: GraphQLSchema;
  private readonly planner: QueryPlanner;
  private readonly services: Record<string, GraphQLDataSource>;
  private readonly plans = new Map<string, PlannedSubscription>();
  /** Per subgraph with caller-independent entity fields: fetches shared between subscribers. */
  readonly sharedFetches: Record<string, SharedEntityFetches> = {};

  constructor(
    readonly supergraphSdl: string,
    /** Subgraph name → HTTP URL (overrides the URLs in the supergraph, as the gateway does). */
    readonly urls: Record<string, string>,
    dataSource: DataSourceFactory = defaultDataSource,
  ) {
    const supergraph = Supergraph.build(supergraphSdl);
    this.api = supergraph.apiSchema();
    this.apiSchema = this.api.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.planner = new QueryPlanner(supergraph);
    this.services = {};
    for (const sg of supergraph.subgraphs()) {
      const url = urls[sg.name] ?? sg.url;
      this.urls[sg.name] = url;
      const service = dataSource(sg.name, url);
      const shareable = CALLER_INDEPENDENT_FIELDS[sg.name];
      this.services[sg.name] = shareable ? (this.sharedFetches[sg.name] = new SharedEntityFetches(service, shareable)) : service;
    }
  }

  /** Plans a (validated) subscription document; cached per document and operation name. */
  plan(document: DocumentNode, operationName: string | undefined): PlannedSubscription {
    const key = `${operationName ?? ""}\u0000${print(document)}`;
    const cached = this.plans.get(key);
    if (cached) return cached;
    const operation = operationFromDocument(this.api, document, { operationName });
    const queryPlan: QueryPlan = this.planner.buildQueryPlan(operation);
    const node = queryPlan.node;
    if (!node || node.kind !== "Subscription") throw badRequest(ONLY_SUBSCRIPTIONS);
    const planned: PlannedSubscription = {
      primary: node.primary,
      rest: node.rest,
      document,
      query: print(document),
      operationName,
      operationContext: buildOperationContext({ schema: this.apiSchema, operationDocument: document, operationName }),
    };
    if (this.plans.size >= 500) this.plans.delete(this.plans.keys().next().value!);
    this.plans.set(key, planned);
    return planned;
  }

  /** The primary fetch's variables: only those it uses, from the client's variables. */
  primaryVariables(p: PlannedSubscription, variables: Record<string, unknown> | undefined): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const name of p.primary.variableUsages ?? []) if (variables && variables[name] !== undefined) out[name] = variables[name];
    return out;
  }

  /**
   * Turns one event from the owning subgraph into the client's result: runs the rest of the
   * plan (entity fetches to other subgraphs) and shapes the response. A failing subgraph
   * yields an error for its fields; the event is still delivered.
   */
  async execute(p: PlannedSubscription, event: ExecutionResult, variables: Record<string, unknown> | undefined, ctx: SubscriptionRequestContext): Promise<ExecutionResult> {
    const owner = p.primary.serviceName;
    const real = this.services[owner];
    const seed: GraphQLDataSource = {
      // The primary fetch has already happened upstream: answer it with the event itself.
      process: (options) => (options.request.query === p.primary.operation ? Promise.resolve(event as never) : real.process(options)),
    };
    const serviceMap: ServiceMap = { ...this.services, [owner]: seed };
    const plan: QueryPlan = { kind: "QueryPlan", node: p.rest ? { kind: "Sequence", nodes: [p.primary, p.rest] } : p.primary };
    const requestContext = {
      request: { query: p.query, variables: variables ?? {}, operationName: p.operationName },
      context: ctx,
      metrics: {},
      logger: undefined,
      document: p.document,
      operationName: p.operationName ?? null,
      overallCachePolicy: { restrict() {}, replace() {}, policyIfCacheable() { return null; } },
    };
    try {
      const result = await executeQueryPlan(
        plan,
        serviceMap,
        requestContext as unknown as Parameters<typeof executeQueryPlan>[2],
        p.operationContext,
        this.supergraphSchema,
        this.api,
      );
      return { data: result.data as ExecutionResult["data"], ...(result.errors?.length ? { errors: result.errors.map(asGraphQLError) } : {}) };
    } catch (err) {
      return { data: null, errors: [asGraphQLError(err)] };
    }
  }
}

/** graphql-ws calls toJSON() on every error: plain Errors must become GraphQLErrors. */
export function asGraphQLError(err: unknown): GraphQLError {
  if (err instanceof GraphQLError) return err;
  const e = err as { message?: string; extensions?: Record<string, unknown> } | undefined;
  return new GraphQLError(e?.message ?? String(err), { extensions: { code: GraphQLErrorCode.InternalServerError, ...(e?.extensions ?? {}) } });
}
