import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import { WsCloseCode } from "../../platform/codes.js";
import type { ServiceSigner } from "../../platform/service-auth.js";
import type { ConnectionExtra, StreamBounds } from "./connection.js";

/** What an upstream's backpressure reads of one subscription on it (active-subscription.ts). */
export interface Throttled {
  /** Events still being executed plus results not yet written to the client. */
  backlog(): number;
  /** Results ready but not yet written to the client: the client's share of the backlog. */
  unsent(): number;
  readonly closed: boolean;
  /** Ends the subscription as SLOW_CONSUMER (after what it was given). */
  tooSlow(): void;
}

/** How often a paused upstream checks whether its subscriptions caught up. */
const THROTTLE_CHECK_MS = 5;

/**
 * One upstream graphql-ws connection (per downstream connection and owning subgraph) with
 * backpressure: graphql-ws has none, so when a subscription's backlog (events waiting for
 * the rest of the plan + results not yet written to the client) passes `pauseAt`, we stop
 * reading the upstream socket. The subgraph's sends then stall, its replay (pulled on
 * demand) waits, and a client that stays slow is cut off by the subgraph's own bounded
 * queue, with the cursor of the last event it was given.
 */
export class Upstream {
  socket: WebSocket | null = null;
  /** Subscriptions over the pause mark, and since when. */
  private readonly over = new Map<Throttled, number>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly client: Client,
    private readonly bounds: StreamBounds,
  ) {}

  throttle(sub: Throttled): void {
    if (sub.backlog() < this.bounds.pauseAt) return;
    if (!this.over.has(sub)) this.over.set(sub, Date.now());
    if (this.timer) return;
    this.socket?.pause();
    this.bounds.stats.upstreamPauses++;
    this.timer = setInterval(() => this.check(), THROTTLE_CHECK_MS);
  }

  private check(): void {
    const now = Date.now();
    for (const [s, since] of this.over) {
      if (s.closed || s.backlog() <= this.bounds.pauseAt / 2) this.over.delete(s);
      else if (s.unsent() < this.bounds.pauseAt / 2) this.over.set(s, now); // the gateway is busy, not the client
      else if (now - since > this.bounds.slowMs) {
        // Behind for too long: end it (after what it was given) so it resumes from its cursor.
        this.over.delete(s);
        s.tooSlow();
      }
    }
    if (this.over.size === 0) this.release();
  }

  release(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.over.clear();
    this.socket?.resume();
  }
}

const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

/**
 * Opens (lazily) the upstream of one downstream connection to the subgraph at `url`: signed with
 * the gateway's service credential plus who the viewer is (their token, signed claims, an overlay
 * token, or nobody: an anonymous room viewer). Never retries silently: the client resumes with its
 * cursor. An overlay token refused upstream (4401/4403) closes the downstream socket too.
 */
export function openUpstream(service: string, url: string, extra: ConnectionExtra, signer: ServiceSigner, bounds: StreamBounds): Upstream {
  let holder: Upstream | null = null;
  // Keeps the socket so Upstream can pause reading it (backpressure).
  class TrackedWebSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      if (holder) holder.socket = this;
    }
  }
  const client = createClient({
    url: wsUrl(url),
    webSocketImpl: TrackedWebSocket,
    connectionParams: async () => ({
      ...(await signer.connectionParams(service, extra.overlayToken ? {} : { authorization: extra.authorization, identity: extra.identity })),
      ...(extra.overlayToken ? { overlayToken: extra.overlayToken } : {}),
    }),
    lazy: true,
    lazyCloseTimeout: 0, // the last subscription gone → the upstream socket closes
    retryAttempts: 0, // never silently: the client resumes with its cursor
    keepAlive: 10_000,
  });
  const up = (holder = new Upstream(client, bounds));
  countOpenSockets(client, bounds, () => holder?.release(), extra);
  return up;
}

/** Counts opened upstream sockets ("closed" also fires for sockets that never opened) and ends refused overlays. */
function countOpenSockets(client: Client, bounds: StreamBounds, onClosed: () => void, extra: ConnectionExtra): void {
  let open = false;
  client.on("connected", () => {
    open = true;
    bounds.stats.upstreamSockets++;
  });
  client.on("closed", (event) => {
    if (open) bounds.stats.upstreamSockets--;
    open = false;
    onClosed();
    // An overlay's credential is checked upstream: invalid or revoked there ends this connection.
    const close = event as { code?: number; reason?: string };
    if (extra.overlayToken && (close.code === WsCloseCode.Unauthenticated || close.code === WsCloseCode.Forbidden)) {
      extra.socket.close(close.code, close.reason || "overlay token refused");
    }
  });
}
