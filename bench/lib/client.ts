import { createClient, type Client } from "graphql-ws";
import WebSocket from "ws";

export interface GqlResult<T = any> {
  data?: T;
  errors?: { message: string; extensions?: { code?: string } }[];
}

export async function gql<T = any>(url: string, query: string, variables: Record<string, unknown> = {}, token?: string): Promise<T> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as GqlResult<T>;
  if (body.errors?.length) throw new Error(`${url}: ${body.errors.map((e) => `${e.extensions?.code ?? ""} ${e.message}`).join("; ")}`);
  return body.data as T;
}

/** The WebSocket URL of an HTTP URL (same host, port and path). */
export const wsUrlOf = (httpUrl: string) => httpUrl.replace(/^http/, "ws");

/** Runs `fn` over `items` with at most `n` in flight. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

export interface StreamSubscriber {
  client: Client;
  /** Messages received (data), errors and completions. */
  received: number;
  errors: string[];
  completed: boolean;
  dispose(): Promise<void>;
}

/**
 * One graphql-ws connection (one per viewer or host, as real clients have) with one
 * subscription; `onData` gets each result's root field value and the arrival time.
 */
export function subscribe(
  wsUrl: string,
  token: string,
  query: string,
  variables: Record<string, unknown>,
  onData: (value: any, at: number) => void,
): StreamSubscriber {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: true,
    retryAttempts: 0,
    keepAlive: 0,
  });
  const sub: StreamSubscriber = {
    client,
    received: 0,
    errors: [],
    completed: false,
    async dispose() {
      await client.dispose();
    },
  };
  client.subscribe<Record<string, unknown>>(
    { query, variables },
    {
      next: (result) => {
        const at = performance.now();
        if (result.errors?.length) {
          if (sub.errors.length < 5) sub.errors.push(String(result.errors[0].message));
          return;
        }
        sub.received++;
        const data = result.data ?? {};
        onData(data[Object.keys(data)[0]], at);
      },
      error: (err) => {
        const e = err as { message?: string; code?: number; reason?: string } | { message: string }[];
        const msg = Array.isArray(e) ? e[0]?.message : e?.message ?? (e?.code ? `closed ${e.code} ${e.reason ?? ""}` : String(err));
        if (sub.errors.length < 5) sub.errors.push(String(msg));
      },
      complete: () => {
        sub.completed = true;
      },
    },
  );
  return sub;
}
