import { PgListener } from "../../../platform/pg-listener.js";
import { SERVICE_HEADER, type ServiceSigner } from "../../../platform/service-auth.js";

/**
 * Owner reads of the earnings subgraph for other subgraphs (the wallet's sendGift):
 * "is this user a creator who may receive gifts?" and "is this live session the host's
 * and live?". Answers come from the earnings subgraph over HTTP GraphQL (never its
 * tables), are cached in-process, and are invalidated by the NOTIFY that earnings'
 * triggers send on `earnings_owner_read` when a creator is created/changed or a session
 * starts/ends. Like the catalog client, answers are cached only while that listener is up
 * (a notification missed meanwhile cannot leave a stale entry); the TTL is a safety net.
 */
export const EARNINGS_OWNER_READ_CHANNEL = "earnings_owner_read";

export interface HostForGifting {
  id: string;
  canReceive: boolean;
}

export interface LiveSessionForGifting {
  id: string;
  hostId: string;
  live: boolean;
}

export interface EarningsClientOptions {
  /** Signs each request with the caller's service credential (the earnings subgraph answers only signed callers). */
  signer: ServiceSigner;
  /** The earnings subgraph's GraphQL URL (EARNINGS_URL), e.g. http://127.0.0.1:4003/graphql. */
  url: string;
  /** The database the earnings subgraph NOTIFYs on. */
  databaseUrl: string;
  /** Safety-net cache lifetime in ms (default 5000, as the catalog client); NOTIFY invalidates sooner. */
  ttlMs?: number;
  /** Per-request timeout in ms (default 3000). */
  timeoutMs?: number;
  /** Most entries kept (default 10,000); the oldest are dropped first. */
  maxEntries?: number;
}

/** The earnings subgraph could not be asked (down, timeout, unexpected answer). Callers should fail the request, not guess. */
export class EarningsUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "EarningsUnavailableError";
  }
}

interface Entry {
  value: unknown;
  expires: number;
}

const HOST_QUERY = `query HostForGifting($id: ID!) { hostForGifting(hostId: $id) { id canReceive } }`;
const SESSION_QUERY = `query LiveSessionForGifting($id: ID!) { liveSessionForGifting(id: $id) { id hostId live } }`;

export class EarningsClient {
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<unknown>>();
  /** Bumped on every invalidation of a key: a fetch that started before it must not be cached. */
  private readonly versions = new Map<string, number>();
  private epoch = 0;
  private readonly listener: PgListener;
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  private readonly maxEntries: number;
  /** HTTP requests made (tests and metrics: a cache hit makes none). */
  fetches = 0;

  constructor(private readonly opts: EarningsClientOptions) {
    this.ttlMs = opts.ttlMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.listener = new PgListener({
      databaseUrl: opts.databaseUrl,
      channel: EARNINGS_OWNER_READ_CHANNEL,
      name: "earnings-client",
      onNotify: (key) => key && this.invalidate(key),
      // A notification may have been missed while not listening: forget everything.
      onListening: () => this.clear(),
      onLost: () => this.clear(),
    });
  }

  /** Starts listening for invalidations; until then (and while the listener is down) nothing is cached. */
  async start(): Promise<void> {
    await this.listener.start();
  }

  async stop(): Promise<void> {
    await this.listener.stop();
    this.clear();
  }

  /** The creator with this id, or null when the user is not a creator (sendGift: HOST_NOT_FOUND). */
  hostForGifting(hostId: string, authorization?: string): Promise<HostForGifting | null> {
    return this.read(`creator:${hostId}`, HOST_QUERY, hostId, "hostForGifting", authorization) as Promise<HostForGifting | null>;
  }

  /** The live session, or null when there is none (sendGift checks hostId and live itself). */
  liveSession(id: string, authorization?: string): Promise<LiveSessionForGifting | null> {
    return this.read(`session:${id.toLowerCase()}`, SESSION_QUERY, id, "liveSessionForGifting", authorization) as Promise<LiveSessionForGifting | null>;
  }

  /** Drops everything cached (also called when the listener connection is lost: a notification may have been missed). */
  clear(): void {
    this.cache.clear();
    this.inflight.clear();
    this.epoch++;
  }

  private invalidate(key: string): void {
    this.cache.delete(key);
    this.inflight.delete(key);
    this.versions.set(key, (this.versions.get(key) ?? 0) + 1);
  }

  private async read(key: string, query: string, id: string, field: string, authorization?: string): Promise<unknown> {
    const hit = this.cache.get(key);
    if (hit && hit.expires > Date.now()) return hit.value;
    const pending = this.inflight.get(key);
    if (pending) return pending;
    const version = this.versions.get(key) ?? 0;
    const epoch = this.epoch;
    const listening = this.listener.isListening;
    const p = this.fetch(query, id, field, authorization).then(
      (value) => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
        // Only cache what no invalidation raced with.
        if (listening && this.listener.isListening && (this.versions.get(key) ?? 0) === version && this.epoch === epoch) {
          if (this.cache.size >= this.maxEntries) this.cache.delete(this.cache.keys().next().value as string);
          this.cache.set(key, { value, expires: Date.now() + this.ttlMs });
        }
        return value;
      },
      (err) => {
        if (this.inflight.get(key) === p) this.inflight.delete(key);
        throw err;
      },
    );
    this.inflight.set(key, p);
    return p;
  }

  private async fetch(query: string, id: string, field: string, authorization?: string): Promise<unknown> {
    this.fetches++;
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: "POST",
        headers: { "content-type": "application/json", [SERVICE_HEADER]: await this.opts.signer.header("earnings"), ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ query, variables: { id } }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new EarningsUnavailableError(`earnings owner read failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    let body: { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new EarningsUnavailableError(`earnings owner read: HTTP ${res.status} without a JSON body`);
    }
    if (body.errors?.length || !body.data) {
      const e = body.errors?.[0];
      throw new EarningsUnavailableError(`earnings owner read: ${e?.extensions?.code ?? res.status} ${e?.message ?? "no data"}`);
    }
    return body.data[field] ?? null;
  }
}
