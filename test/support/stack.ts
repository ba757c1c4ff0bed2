import "reflect-metadata";
import { mintToken, type TokenClaims } from "../../platform/auth.js";
import { MONEY_MUTATION_LIMITS } from "../../platform/money-rate-limit.js";
import { startCatalog } from "../../subgraphs/catalog/index.js";
import { startEarnings } from "../../subgraphs/earnings/index.js";
import { startWallet } from "../../subgraphs/wallet/index.js";
import { startGateway, type GatewayOptions, type RunningGateway } from "../../gateway/index.js";
import { TokenBuckets } from "../../platform/token-bucket.js";
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
export type StackGatewayOptions = Omit<Partial<GatewayOptions>, "subgraphUrls"> & {
  subgraphUrls?: Partial<NonNullable<GatewayOptions["subgraphUrls"]>>;
  /** process.env over these while the gateway starts (configuration is read at start-up), then as before: e.g. a production gateway. */
  env?: Record<string, string>;
};

/** What a production gateway needs besides NODE_ENV (configuration refuses the development defaults there). */
export const PRODUCTION_SECRETS = {
  JWT_SECRET: "production-secret-for-this-test-only-0123456789",
  PAYMENT_WEBHOOK_SECRET: "whsec_test_production_0123456789",
  SERVICE_SECRET: "service-secret-for-this-test-only-0123456789",
} as const;

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
  /** process.env over these from the start until stop() (e.g. a SERVICE_SECRET shared with a production gateway). */
  env?: Record<string, string>;
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
export function generousRateLimiter(): TokenBuckets {
  return new TokenBuckets(Object.fromEntries(Object.keys(MONEY_MUTATION_LIMITS).map((k) => [k, { capacity: 1_000_000, refillPerSecond: 1_000_000 }])));
}

/**
 * The whole product in-process on free ports: three subgraphs on a fresh database
 * (migrated and seeded) and a real gateway in front, all over real sockets.
 */
export async function startStack(label = "stack", opts: StackOptions = {}): Promise<Stack> {
  const restoreEnv = overEnv(opts.env ?? {});
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
  const gatewayFor = async ({ env, ...g }: StackGatewayOptions = {}) => {
    const restore = overEnv(env ?? {});
    try {
      return await startGateway({
        port: 0,
        supergraphSdl: schemas.supergraph,
        partnerSupergraphSdl: schemas.contracts.partner.supergraph,
        ...g,
        subgraphUrls: { ...urls, ...g.subgraphUrls },
      });
    } finally {
      restore();
    }
  };
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
      restoreEnv();
    },
  };
}

/** Sets `env` over process.env; the returned function puts back what was there (unset stays unset). */
function overEnv(env: Record<string, string>): () => void {
  const before = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  return () => {
    for (const [k, v] of Object.entries(before)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  };
}
