import { internalError } from "../../platform/codes.js";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

const wsUrl = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

/**
 * ONE upstream graphql-ws connection per owning subgraph for all rooms of this gateway process,
 * authenticated with the gateway's service credential (not a viewer's token). Lazy: it opens with
 * the first room and closes when the last room's subscription ends.
 */
export class RoomUpstreams {
  private readonly clients = new Map<string, Client>();
  /** The open upstream sockets (one per owning subgraph at most): metrics, and fault tests drop them. */
  readonly sockets = new Set<WebSocket>();

  constructor(
    private readonly urls: Record<string, string>,
    private readonly stats: { upstreamSockets: number },
    private readonly credential: (service: string) => Promise<Record<string, string>>,
  ) {}

  client(service: string): Client {
    let client = this.clients.get(service);
    if (client) return client;
    const url = this.urls[service];
    if (!url) throw internalError(`no URL for subgraph ${service}`);
    const sockets = this.sockets;
    class TrackedWebSocket extends WebSocket {
      constructor(...args: ConstructorParameters<typeof WebSocket>) {
        super(...args);
        sockets.add(this);
        this.once("close", () => sockets.delete(this));
      }
    }
    client = createClient({
      url: wsUrl(url),
      webSocketImpl: TrackedWebSocket,
      // Called on every (re)connect: a fresh credential each time.
      connectionParams: () => this.credential(service),
      lazy: true,
      lazyCloseTimeout: 0, // rooms linger themselves; the socket closes with the last one
      retryAttempts: 0, // a dropped upstream ends the room's subscriptions with STREAM_INTERRUPTED: clients resume with their cursor
      keepAlive: 10_000,
    });
    let open = false;
    client.on("connected", () => {
      open = true;
      this.stats.upstreamSockets++;
    });
    client.on("closed", () => {
      if (open) this.stats.upstreamSockets--;
      open = false;
    });
    this.clients.set(service, client);
    return client;
  }

  async dispose(): Promise<void> {
    const all = [...this.clients.values()];
    this.clients.clear();
    await Promise.all(all.map((c) => c.dispose()));
  }
}

