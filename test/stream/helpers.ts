import { randomUUID } from "node:crypto";
import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";
import type { AuthUser } from "../../platform/auth.js";
import { appendToFeed, type FeedItem } from "../../subgraphs/earnings/domain/feed.js";
import { until } from "../support/eventually.js";
import { wsUrl } from "../support/http.js";
import type { Stack } from "../support/stack.js";

// The stream suites' toolbox re-exports the shared wait and URL helpers they have always imported from here.
export { until, wsUrl };

export interface Sub {
  /** Every `next` payload as received (data, errors, extensions). */
  raw: any[];
  events: any[];
  errors: any[];
  completed: boolean;
  closed: { code: number; reason: string } | null;
  /** Resolves once `n` events arrived. */
  waitFor(n: number, ms?: number): Promise<any[]>;
  waitForEnd(): Promise<void>;
  dispose(): Promise<void>;
  client: Client;
}

/** A real graphql-ws client (the `ws` package) subscribing with `token` in connection_init. */
export function subscribe(url: string, token: string | null, query: string, variables: Record<string, unknown> = {}, connectionParams?: Record<string, unknown>): Sub {
  const sub: Sub = {
    raw: [],
    events: [],
    errors: [],
    completed: false,
    closed: null,
    waitFor: (n, ms) => until(() => sub.events.length >= n || sub.errors.length > 0 || sub.closed !== null, `${n} events`, ms).then(() => {
      if (sub.events.length < n) throw new Error(`stream ended after ${sub.events.length} events: ${JSON.stringify(sub.errors.length ? sub.errors : sub.closed)}`);
      return sub.events;
    }),
    waitForEnd: () => until(() => sub.completed || sub.errors.length > 0 || sub.closed !== null, "the stream to end"),
    dispose: async () => {
      unsubscribe();
      await client.dispose();
    },
    client: undefined as unknown as Client,
  };
  const client = createClient({
    url: wsUrl(url),
    webSocketImpl: WebSocket,
    connectionParams: connectionParams ?? (token ? { authorization: `Bearer ${token}` } : {}),
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined,
  });
  client.on("closed", (ev) => {
    const e = ev as { code: number; reason: string };
    sub.closed ??= { code: e.code, reason: String(e.reason) };
  });
  sub.client = client;
  const unsubscribe = client.subscribe(
    { query, variables },
    {
      next: (v) => {
        sub.raw.push(v);
        if (v.errors) sub.errors.push(...v.errors);
        if (v.data) sub.events.push(v);
      },
      error: (e) => {
        if (Array.isArray(e)) sub.errors.push(...e);
        else if (e && typeof (e as { code?: unknown }).code === "number") sub.closed ??= { code: (e as { code: number }).code, reason: String((e as { reason?: string }).reason) };
        else sub.errors.push({ message: String(e) });
      },
      complete: () => {
        sub.completed = true;
      },
    },
  );
  return sub;
}

export function user(id: string, roles: AuthUser["roles"] = ["viewer", "host"]): AuthUser {
  return { id, name: id.toUpperCase(), roles, region: "US", adult: true, exp: undefined };
}

/** Makes `id` a creator (as going live or the gift consumer would). */
export async function makeHost(stack: Stack, id: string): Promise<void> {
  await stack.subgraphs.earnings.services.creators.ensure(user(id));
}

/** Real gift ids from the seeded catalog. */
export async function catalogGifts(stack: Stack): Promise<{ id: string; name: string; imageUrl: string }[]> {
  const r = await stack.gql(`{ gifts { id name imageUrl } }`);
  if (!r.data?.gifts?.length) throw new Error(`no gifts: ${JSON.stringify(r.errors)}`);

  return r.data.gifts;
}

export function item(over: Partial<FeedItem> & { hostId: string; giftId: string }): FeedItem {
  const quantity = over.quantity ?? 1;
  const unitCost = over.unitCost ?? 10;
  return {
    giftEventId: randomUUID(),
    liveSessionId: null,
    senderId: "viewer-1",
    senderName: "Viewer One",
    quantity,
    unitCost,
    coins: unitCost * quantity,
    diamonds: Math.floor((unitCost * quantity) / 2),
    comboId: null,
    sentAt: new Date(),
    ...over,
  };
}

/** What the earnings consumer does after crediting: appendToFeed in a transaction (the production path). */
export async function credit(stack: Stack, items: FeedItem[]): Promise<void> {
  await stack.subgraphs.earnings.dataSource.transaction((m) => appendToFeed(m, items));
}


/**
 * Runs `open`, then waits until its `n` subscriptions reach earnings: the hub registered that many
 * more subscribers, or (viewers of a public feed share one upstream subscription per room) the
 * gateway accepted `n` more and every upstream subscription it holds is registered at the hub.
 */
export async function opened<T>(stack: Stack, open: () => T, n = 1, ms = 15_000): Promise<T> {
  const hub = stack.subgraphs.earnings.services.stream;
  const gw = stack.gateway.subscriptions;
  const before = hub.stats.opened;
  const gwBefore = gw.stats.opened;
  const result = open();
  await until(
    () => hub.stats.opened >= before + n || (gw.stats.opened >= gwBefore + n && gw.stats.upstreamSubscriptions > 0 && hub.stats.subscribers >= gw.stats.upstreamSubscriptions),
    "the subscription to reach earnings",
    ms,
  );
  return result;
}
