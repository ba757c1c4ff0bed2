import "reflect-metadata";
import { mintToken, type TokenClaims } from "../../platform/auth.js";
import { startCatalog } from "../../subgraphs/catalog/index.js";
import { startEarnings } from "../../subgraphs/earnings/index.js";
import { startWallet } from "../../subgraphs/wallet/index.js";
import { startGateway, type RunningGateway } from "../../gateway/index.js";
import { composeSupergraph } from "../../scripts/compose.js";
import { createTestDatabase } from "./db.js";
import { post } from "./http.js";

export type Subgraphs = {
  wallet: Awaited<ReturnType<typeof startWallet>>;
  catalog: Awaited<ReturnType<typeof startCatalog>>;
  earnings: Awaited<ReturnType<typeof startEarnings>>;
};

export { post, type GraphQLResponse } from "./http.js";

export interface Stack {
  databaseUrl: string;
  subgraphs: Subgraphs;
  gateway: RunningGateway;
  /** POST a GraphQL operation to the gateway. */
  gql<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>>;
  token(claims: TokenClaims, opts?: Parameters<typeof mintToken>[1]): Promise<string>;
  stop(): Promise<void>;
}

/**
 * The whole product in-process on free ports: three subgraphs on a fresh database
 * (migrated and seeded) and a real gateway in front, all over real sockets.
 */
export async function startStack(label = "stack"): Promise<Stack> {
  const db = await createTestDatabase(label);
  const opts = { databaseUrl: db.url, port: 0, poolSize: 8 };
  // Sequential start: migrations take an advisory lock per schema anyway. The wallet starts last:
  // sendGift's owner reads need the catalog's and earnings' URLs.
  const catalog = await startCatalog(opts);
  const earnings = await startEarnings({ ...opts, peers: { catalog: catalog.url } });
  const wallet = await startWallet({ ...opts, peers: { catalog: catalog.url, earnings: earnings.url } });
  const { supergraph } = await composeSupergraph();
  const gateway = await startGateway({
    port: 0,
    supergraphSdl: supergraph,
    subgraphUrls: { wallet: wallet.url, catalog: catalog.url, earnings: earnings.url },
  });
  return {
    databaseUrl: db.url,
    subgraphs: { wallet, catalog, earnings },
    gateway,
    gql: (query, variables, token) => post(gateway.url, query, variables, { token }),
    token: (claims, o) => mintToken(claims, o),
    async stop() {
      await gateway.stop();
      await Promise.all([wallet.stop(), catalog.stop(), earnings.stop()]);
      await db.drop();
    },
  };
}
