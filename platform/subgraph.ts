import type { IncomingMessage } from "node:http";
import type { DataSource } from "typeorm";
import type { GraphQLSchema } from "graphql";
import { GraphQLError } from "graphql";
import { AuthError, TokenVerifier, type AuthUser } from "./auth.js";
import { loadConfig, type Config } from "./config.js";
import { createDataSource, databaseAnswers, migrate, type DataSourceOptions, type QueryCounter } from "./db.js";
import { authFailure, startGraphQLHttpServer, type Route, type RunningServer } from "./http.js";
import { logger } from "./logger.js";
import { SERVICE_HEADER, ServiceVerifier } from "./service-auth.js";
import { useMetrics, type Sample } from "./metrics.js";
import { incomingTraceparent } from "./tracing.js";

/** What every resolver receives. Subgraphs extend it with their own loaders/services. */
export interface BaseContext {
  user: AuthUser | null;
  requestId: string;
  /** The raw bearer header, forwarded when this subgraph calls another owner. */
  authorization: string | undefined;
  /** The caller's W3C traceparent, passed on into events when no span of ours is active (platform/tracing.ts). */
  traceparent?: string;
}

export interface SubgraphDefinition<S, C extends BaseContext> {
  /** Service name and its PostgreSQL schema ("wallet", "catalog", "earnings"). */
  name: "wallet" | "catalog" | "earnings";
  entities: DataSourceOptions["entities"];
  migrations: DataSourceOptions["migrations"];
  /** Builds the domain services for one process from its DataSource. */
  services: (dataSource: DataSource, queries: QueryCounter) => Promise<S> | S;
  /** Builds the federated schema (type-graphql + @apollo/subgraph). Needs no database: schema:compose calls it. */
  schema: () => Promise<{ schema: GraphQLSchema; sdl: string }>;
  /** Per-request context: the verified user plus fresh DataLoaders. */
  context: (base: BaseContext, services: S) => C;
  routes?: (services: S) => Route[];
  /** Seeds reference data when empty (idempotent, safe under concurrent starts). */
  seed?: (dataSource: DataSource) => Promise<unknown>;
  /** Background work (consumers, listeners) started after migrations; returns a stopper. */
  background?: (services: S) => Promise<() => Promise<void>>;
  /** Attach extra servers (e.g. graphql-ws, bounded by platform/ws-socket-limits.ts with `config.internalWs`) to the HTTP server; returns a stopper. */
  attach?: (server: import("node:http").Server, services: S, schema: GraphQLSchema, verifier: TokenVerifier, serviceVerifier: ServiceVerifier, config: Config) => Promise<() => Promise<void>>;
  /** State for /metrics, read at scrape time (consumer lag, streams, queues); pool gauges come without it. */
  metrics?: (services: S, dataSource: DataSource) => Sample | Promise<Sample>;
}

export interface RunningSubgraph<S> extends RunningServer {
  services: S;
  dataSource: DataSource;
  queries: QueryCounter;
  sdl: string;
}

export interface StartOptions {
  databaseUrl: string;
  port?: number;
  /** Run migrations (and seed) before serving; default true. Safe with several instances (advisory lock). */
  migrate?: boolean;
  poolSize?: number;
}

export async function startSubgraph<S, C extends BaseContext>(def: SubgraphDefinition<S, C>, opts: StartOptions): Promise<RunningSubgraph<S>> {
  const config = loadConfig();
  const { dataSource, queries } = createDataSource({
    url: opts.databaseUrl,
    schema: def.name,
    entities: def.entities,
    migrations: def.migrations,
    poolSize: opts.poolSize,
  });
  await dataSource.initialize();
  if (opts.migrate !== false) {
    await migrate(dataSource, def.name);
    await def.seed?.(dataSource);
  }
  const services = await def.services(dataSource, queries);
  const metrics = useMetrics({ service: def.name, dataSource, sample: def.metrics ? () => def.metrics!(services, dataSource) : undefined });
  const { schema, sdl } = await def.schema();
  const verifier = new TokenVerifier(config);
  // Subgraphs answer only signed callers (the gateway, owner-read clients): see platform/service-auth.ts.
  const serviceVerifier = new ServiceVerifier(config, def.name);
  const stopBackground = def.background ? await def.background(services) : async () => {};
  let detach: () => Promise<void> = async () => {};

  const server = await startGraphQLHttpServer<C>({
    name: def.name,
    schema,
    port: opts.port ?? config.ports[def.name],
    host: config.host,
    production: config.env === "production",
    ready: () => databaseAnswers(dataSource),
    routes: def.routes?.(services),
    onServer: async (http) => {
      if (def.attach) detach = await def.attach(http, services, schema, verifier, serviceVerifier, config);
    },
    onStop: async () => {
      await detach();
      await stopBackground();
    },
    context: async (req: IncomingMessage, requestId: string) => {
      const authorization = typeof req.headers.authorization === "string" ? req.headers.authorization : undefined;
      const credential = req.headers[SERVICE_HEADER];
      let user: AuthUser | null;
      try {
        // Every GraphQL request (public fields, owner reads, _entities, _service) needs the service
        // credential: whoever merely reaches the port gets 401, before any resolver or limit runs.
        const service = await serviceVerifier.fromHeader(typeof credential === "string" ? credential : undefined);
        user = authorization ? await verifier.fromHeader(authorization) : service.identity;
      } catch (e) {
        if (e instanceof AuthError) throw authFailure(e.message);
        throw e;
      }
      return def.context({ user, requestId, authorization, traceparent: incomingTraceparent(req.headers) }, services);
    },
  });
  logger.info({ service: def.name, url: server.url }, "subgraph listening");
  const stop = server.stop;
  return {
    ...server,
    services,
    dataSource,
    queries,
    sdl,
    async stop() {
      await stop();
      metrics.stop();
      if (dataSource.isInitialized) await dataSource.destroy();
    },
  };
}

export { GraphQLError };
