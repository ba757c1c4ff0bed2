import type { Server } from "node:http";
import type { GraphQLSchema } from "graphql";
import type { DataSource } from "typeorm";
import type { TokenVerifier } from "../../../../platform/auth.js";
import type { Config } from "../../../../platform/config.js";
import { WsGuard } from "../../../../platform/ws-socket-limits.js";
import type { ServiceVerifier } from "../../../../platform/service-auth.js";
import type { BaseContext } from "../../../../platform/subgraph.js";
import type { OverlayGrant, OverlayService } from "../../domain/overlays.js";
import { FeedHub } from "./hub.js";
import { attachStreamServer } from "./server.js";

export { FeedHub } from "./hub.js";

/** Adds the process's gift-stream hub to the earnings services. */
export function withGiftStream<T extends object>(ds: DataSource, make: () => T): T & { stream: FeedHub } {
  const url = (ds.options as { url?: string }).url;
  if (!url) throw new Error("the gift stream needs the DataSource url for its LISTEN connection");
  return { ...make(), stream: new FeedHub(ds, url) };
}

/** SubgraphDefinition.attach: starts the hub and serves graphql-ws on the subgraph's /graphql. */
export async function attachGiftStream<C>(
  http: Server,
  services: { stream: FeedHub; overlays: OverlayService },
  schema: GraphQLSchema,
  verifier: TokenVerifier,
  serviceVerifier: ServiceVerifier,
  context: (base: BaseContext & { overlay?: OverlayGrant }) => C,
  config: Config,
): Promise<() => Promise<void>> {
  await services.stream.start();
  // The same WebSocket bounds and operation limits as the gateway's endpoints; the callers are
  // gateways, so the per-address cap is the internal one (see Config.internalWs).
  const guard = new WsGuard({ settings: config.internalWs, trustProxyHops: config.trustProxyHops, production: config.env === "production" });
  const databaseUrl = (services.stream.ds.options as { url?: string }).url!;
  const ws = await attachStreamServer({ http, schema, verifier, serviceVerifier, context, guard, overlays: { service: services.overlays, databaseUrl } });
  return async () => {
    await ws.stop();
    await services.stream.stop();
  };
}
