import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from "@apollo/client";
import { PersistedQueryLink } from "@apollo/client/link/persisted-queries";
import type { AppConfig } from "./config.js";

/** SHA-256 (hex) with the browser's Web Crypto; absent outside a secure context (plain http on a LAN address). */
async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * One client per signed-in identity: the token is a static header, so signing in rebuilds it.
 * Operations go as persisted-operation ids (Apollo's APQ wire format): the app's operations are in
 * the gateway's manifest (schema/persisted-operations.json, generated from operations.ts), so the
 * id alone runs the prepared document, and a gateway with PERSISTED_OPERATIONS=required accepts
 * them. An id the gateway does not know (an older gateway) is resent with its text.
 */
export function makeClient(config: AppConfig, token: string | null): ApolloClient {
  const http = new HttpLink({ uri: config.gatewayUrl, headers: token ? { authorization: `Bearer ${token}` } : {} });
  const hashing = typeof crypto !== "undefined" && crypto.subtle !== undefined;
  return new ApolloClient({
    link: hashing ? ApolloLink.from([new PersistedQueryLink({ sha256 }), http]) : http,
    cache: new InMemoryCache(),
    defaultOptions: { watchQuery: { fetchPolicy: "cache-and-network" } },
  });
}
