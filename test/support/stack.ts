import "reflect-metadata";
import { mintToken, type TokenClaims } from "../../platform/auth.js";
import { MONEY_MUTATION_LIMITS } from "../../platform/rate-limit.js";
import { startCatalog } from "../../subgraphs/catalog/index.js";
import { startEarnings } from "../../subgraphs/earnings/index.js";
import { startWallet } from "../../subgraphs/wallet/index.js";
import { startGateway, type GatewayOptions, type RunningGateway } from "../../gateway/index.js";
import { RateLimiter } from "../../gateway/rate-limit.js";
import { composeSupergraph, type ComposedSchemas } from "../../scripts/compose.js";
import { createTestDatabase } from "./db.js";
import { post } from "./http.js";

export type Subgraphs = {
  wallet: Awaited<ReturnType<typeof startWallet>>;
  catalog: Awaited<ReturnType<typeof startCatalog>>;
  earnings: Awaited<ReturnType<typeof startEarnings>>;
};

export { post, type GraphQLResponse } from "./http.js";

/** Gateway options over a stack's wiring: any subgraph URL given replaces that one only. */
export type StackGatewayOptions = Omit<Partial<GatewayOptions>, "subgraphUrls"> & { subgraphUrls?: Partial<NonNullable<GatewayOptions["subgraphUrls"]>> };

export interface StackOptions {
  /** Connections per subgraph pool (default 8). */
  poolSize?: number;
  /**
   * Raise every per-user money guard out of the way: the gateway's buckets, the wallet's and
   * earnings' durable guard (MONEY_RATE_LIMITS) and the wallet's velocity limit (WALLET_MAX_ORDERS_PER_HOUR),
   * for suites that measure money correctness under load, not the limiter (test/hardening covers it).
   * Env settings the test file made itself win.
   */
  generousLimits?: boolean;
  /** Options for the stack's gateway (its subgraph URLs and supergraph are the stack's). */
  gateway?: StackGatewayOptions;
}

export interface Stack {
  databaseUrl: string;
  subgraphs: Subgraphs;
  gateway: RunningGateway;
  /** The SDLs the gateways run, composed from the subgraphs' code (what schema:compose would write). */
  composed: ComposedSchemas;
  /** POST a GraphQL operation to the gateway. */
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>>;
  token(claims: TokenClaims, opts?: Parameters<typeof mintToken>[1]): Promise<string>;
  /**
   * Another gateway in front of this stack's subgraphs (a production one, other limits, a second
   * instance): `opts` over the stack's wiring, `subgraphUrls` merged. Stopped with the stack.
   */
  startGateway(opts?: StackGatewayOptions): Promise<RunningGateway>;
  stop(): Promise<void>;
}

let composing: Promise<ComposedSchemas> | undefined;
/** Composed once per test file (each file runs in its own process). */
export function composed(): Promise<ComposedSchemas> {
  composing ??= composeSupergraph();
  return composing;
}

/** The gateway's per-user money buckets with room for a million calls each (a load, not a limiter, is under test). */
export function generousRateLimiter(): RateLimiter {
  return new RateLimiter(Object.fromEntries(Object.keys(MONEY_MUTATION_LIMITS).map((k) => [k, { capacity: 1_000_000, refillPerSecond: 1_000_000 }])));
}

/**
 * The whole product in-process on free ports: three subgraphs on a fresh database
 * (migrated and seeded) and a real gateway in front, all over real sockets.
 */
export async function startStack(label = "stack", opts: StackOptions = {}): Promise<Stack> {
  if (opts.generousLimits) {
    process.env.WALLET_MAX_ORDERS_PER_HOUR ??= "100000";
    process.env.MONEY_RATE_LIMITS ??= Object.keys(MONEY_MUTATION_LIMITS).map((k) => `${k}=1000000:60000000`).join(",");
  }
  const db = await createTestDatabase(label);
  const o = { databaseUrl: db.url, port: 0, poolSize: opts.poolSize ?? 8 };
  // Sequential start: migrations take an advisory lock per schema anyway. The wallet starts last:
  // sendGift's owner reads need the catalog's and earnings' URLs.
  const catalog = await startCatalog(o);
  const earnings = await startEarnings({ ...o, peers: { catalog: catalog.url } });
  const wallet = await startWallet({ ...o, peers: { catalog: catalog.url, earnings: earnings.url } });
  const schemas = await composed();
  const urls = { wallet: wallet.url, catalog: catalog.url, earnings: earnings.url };
  const more: RunningGateway[] = [];
  const gatewayFor = (g: StackGatewayOptions = {}) =>
    startGateway({
      port: 0,
      supergraphSdl: schemas.supergraph,
      partnerSupergraphSdl: schemas.contracts.partner.supergraph,
      ...g,
      subgraphUrls: { ...urls, ...g.subgraphUrls },
    });
  const gateway = await gatewayFor({ ...(opts.generousLimits ? { rateLimiter: generousRateLimiter() } : {}), ...opts.gateway });
  return {
    databaseUrl: db.url,
    subgraphs: { wallet, catalog, earnings },
    gateway,
    composed: schemas,
    gql: (query, variables, token) => post(gateway.url, query, variables, { token }),
    token: (claims, t) => mintToken(claims, t),
    async startGateway(g) {
      const gw = await gatewayFor(g);
      const stop = gw.stop;
      let stopping: Promise<void> | undefined;
      gw.stop = () => (stopping ??= stop());
      more.push(gw);
      return gw;
    },
    async stop() {
      await Promise.all(more.map((g) => g.stop()));
      await gateway.stop();
      await Promise.all([wallet.stop(), catalog.stop(), earnings.stop()]);
      await db.drop();
    },
  };
}
