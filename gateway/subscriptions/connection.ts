import type { IncomingMessage } from "node:http";
import type { WsConnection } from "../../platform/ws.js";
import type { Upstream } from "./upstream.js";

/** What the gateway keeps per downstream graphql-ws connection. */
export type ConnectionExtra = WsConnection & {
  /** Set by graphql-ws's `ws` adapter. */
  request?: IncomingMessage;
  /** One upstream graphql-ws client per owning subgraph, for this downstream connection only. */
  upstreams?: Map<string, Upstream>;
};

/** The context of one downstream subscription (what the executor and room members read). */
export interface SubscriptionContext {
  authorization: string | undefined;
  requestId: string;
  /** The graphql-ws subscription id (room members write their frames with it). */
  id: string;
  extra: ConnectionExtra;
}

/** The bounds and counters a subscription's backpressure works with (SubscriptionGateway holds them). */
export interface StreamBounds {
  /** Backlog per subscription at which the gateway stops reading its upstream socket. */
  readonly pauseAt: number;
  /** Hard bound per subscription on events waiting to be resolved and on results waiting for the client. */
  readonly hardCap: number;
  /** How long a subscription may stay over the pause mark before it is ended as too slow. */
  readonly slowMs: number;
  readonly stats: { upstreamSockets: number; upstreamPauses: number; upstreamSubscriptions: number; slowClosed: number };
}
