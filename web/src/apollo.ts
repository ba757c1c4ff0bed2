import { ApolloClient, HttpLink, InMemoryCache } from "@apollo/client";
import type { AppConfig } from "./config.js";

/** One client per signed-in identity: the token is a static header, so signing in rebuilds it. */
export function makeClient(config: AppConfig, token: string | null): ApolloClient {
  return new ApolloClient({
    link: new HttpLink({ uri: config.gatewayUrl, headers: token ? { authorization: `Bearer ${token}` } : {} }),
    cache: new InMemoryCache(),
    defaultOptions: { watchQuery: { fetchPolicy: "cache-and-network" } },
  });
}
