import "reflect-metadata";
import { mintToken, type TokenClaims } from "../../subgraphs/common/auth.js";
import { startCatalog } from "../../subgraphs/catalog/index.js";
import { startEarnings } from "../../subgraphs/earnings/index.js";
import { startWallet } from "../../subgraphs/wallet/index.js";
import { startGateway, type RunningGateway } from "../../gateway/index.js";
import { composeSupergraph } from "../../scripts/compose.js";
import { createTestDatabase } from "./db.js";

export type Subgraphs = {
  wallet: Awaited<ReturnType<typeof startWallet>>;
  catalog: Awaited<ReturnType<typeof startCatalog>>;
  earnings: Awaited<ReturnType<typeof startEarnings>>;
};

export interface GraphQLResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
  headers: Headers;
}

export async function post<T = any>(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  opts: { token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<T>> {
  const res = await fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...opts.headers,
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await res.text();
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    body = { errors: [{ message: text }] };
  }
  return { status: res.status, data: body.data, errors: body.errors, headers: res.headers };
}

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
  const earnings = await startEarnings(opts);
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
