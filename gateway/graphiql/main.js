// The development IDE, bundled from npm at build time (vite.config.mjs) so it works offline:
// no CDN scripts or fonts. The gateway serves it on GET /graphql (accept: text/html) outside production.
import "graphiql/setup-workers/vite";
import "graphiql/style.css";
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import { createClient } from "graphql-ws";

const url = new URL("/graphql", window.location.href).href;
const wsUrl = url.replace(/^http/, "ws");

// Subscriptions authenticate in connection_init (the gateway's graphql-ws), from the headers tab.
let headers = {};
const fetcher = createGraphiQLFetcher({
  url,
  wsClient: createClient({ url: wsUrl, lazy: true, connectionParams: () => ({ authorization: headers.authorization ?? headers.Authorization }) }),
});
const trackingFetcher = (params, opts) => {
  headers = opts?.headers ?? {};
  return fetcher(params, opts);
};

const defaultQuery = `# Public: the gift catalog. Add {"authorization": "Bearer <token>"} in Headers
# (npm run -s token -- --sub alice --name Alice) for me, sendGift and subscriptions.
query Gifts {
  gifts {
    id
    name
    coinCost
    imageUrl
  }
}
`;

createRoot(document.getElementById("graphiql")).render(
  createElement(GraphiQL, { fetcher: trackingFetcher, defaultQuery, defaultHeaders: JSON.stringify({ authorization: "Bearer " }, null, 2) }),
);
