import { createClient, type Client } from "graphql-ws";

export interface FollowOptions<T> {
  url: string;
  connectionParams: Record<string, unknown>;
  query: string;
  variables: (after: string | null) => Record<string, unknown>;
  /** Where to start (a saved cursor), null for live only. */
  after: string | null;
  onEvent: (event: T) => void;
  /** The stream cannot continue (revoked or invalid credential, forbidden, bad input): shown, not retried. */
  onFatal: (message: string, code: string | number) => void;
  onStatus?: (status: "connecting" | "live" | "reconnecting") => void;
}

const FATAL_CODES = new Set(["FORBIDDEN", "UNAUTHENTICATED", "BAD_USER_INPUT"]);

/**
 * Follows a gift stream over graphql-ws and resumes from the last cursor after any
 * interruption (SLOW_CONSUMER, STREAM_INTERRUPTED, SCHEMA_RELOADED, a dropped socket), so
 * nothing is missed and nothing repeats. graphql-ws's own retry would resend the first
 * variables (an old cursor): each attempt is a fresh client instead.
 */
export function follow<T extends { cursor: string | null }>(opts: FollowOptions<T>): () => void {
  let cursor = opts.after;
  let client: Client | null = null;
  let stopped = false;
  let retryMs = 500;
  let timer: ReturnType<typeof setTimeout> | null = null;

  const retry = () => {
    client?.dispose();
    client = null;
    if (stopped) return;
    opts.onStatus?.("reconnecting");
    timer = setTimeout(start, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  };

  function start(): void {
    if (stopped) return;
    opts.onStatus?.("connecting");
    const c = createClient({ url: opts.url, connectionParams: opts.connectionParams, retryAttempts: 0, lazy: true, keepAlive: 10_000 });
    client = c;
    c.on("connected", () => {
      retryMs = 500;
      opts.onStatus?.("live");
    });
    c.subscribe<Record<string, T>>(
      { query: opts.query, variables: opts.variables(cursor) },
      {
        next: (msg) => {
          const event = msg.data ? Object.values(msg.data)[0] : null;
          if (event) {
            if (event.cursor) cursor = event.cursor;
            opts.onEvent(event);
          }
        },
        error: (err) => {
          if (client !== c) return;
          if (Array.isArray(err)) {
            const code = String(err[0]?.extensions?.code ?? "");
            if (FATAL_CODES.has(code)) {
              stopped = true;
              opts.onFatal(err[0].message, code);
              c.dispose();
              return;
            }
            return retry();
          }
          const close = err as { code?: number; reason?: string };
          if (close?.code === 4401 || close?.code === 4403) {
            stopped = true;
            opts.onFatal(close.reason || "not allowed", close.code);
            c.dispose();
            return;
          }
          retry();
        },
        complete: () => {
          if (client === c && !stopped) retry();
        },
      },
    );
  }

  start();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    client?.dispose();
  };
}
