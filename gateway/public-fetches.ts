import { Kind, type DocumentNode } from "graphql";
import { PgListener } from "../platform/pg-listener.js";
import type { SubgraphAnswer } from "./fetcher.js";

/**
 * Subgraph fetches whose answer cannot depend on the caller, shared between callers
 * (DECISIONS 96; docs/benchmarks.md "2026-12-02: lean path").
 *
 * Which fetches: those of an incoming QUERY made without a user credential (no Authorization is
 * forwarded; every other header the gateway sends is the same for all such callers: its own
 * service credential, a request id, a traceparent). Never a mutation, never a signed-in caller's
 * fetch — a signed-in `gifts` defaults its region from the caller's token, so even "public"
 * fields can depend on who asks.
 *
 * - Merged: identical fetches (same subgraph, same request body: query, variables, operation
 *   name) in flight at the same time go out once; every caller gets its own parse of the answer
 *   (the gateway merges entity data into the objects it receives, so they are never shared).
 * - Cached, briefly: when every root field of the fetch is on `CACHEABLE_PUBLIC_FIELDS` (the
 *   catalog's `gifts`/`gift`, the wallet's `coinPackages`), a clean answer (HTTP 200, no
 *   `errors`) is kept for `cacheTtlMs` — but only while this process LISTENs to the owner's
 *   change notifications, which drop that subgraph's entries at once. A fetch that was in flight
 *   when a notification arrived is not cached, nor joined by callers after it; a lost or new
 *   LISTEN connection drops everything (notifications may have been missed meanwhile).
 *   Time-driven changes (a scheduled price taking effect, an event gift's window) send no
 *   notification: they show within the TTL (sendGift's expectedUnitCost guards the price).
 * - A mutation through this gateway that can change a cached answer (any catalog mutation, the
 *   wallet's coin-package admin mutations) also drops the owner's entries when it answers, so the
 *   admin's next read shows the change even before the notification arrives.
 */
export const CACHEABLE_PUBLIC_FIELDS: Readonly<Record<string, { fields: ReadonlySet<string>; channel: string; invalidatedBy: ReadonlySet<string> | "any mutation" }>> = {
  // catalog: triggers on catalog.gifts and catalog.gift_prices (migration 1732400000000); subgraphs/catalog/transport/owner-reads-client.ts CATALOG_CHANNEL.
  catalog: { fields: new Set(["gifts", "gift"]), channel: "catalog_changed", invalidatedBy: "any mutation" },
  // wallet: statement triggers on coin packages, their prices, promotions and regions (migration 1733400000000).
  wallet: {
    fields: new Set(["coinPackages"]),
    channel: "wallet_coin_packages_changed",
    invalidatedBy: new Set(["createCoinPackage", "repriceCoinPackage", "retireCoinPackage", "scheduleCoinPromotion", "endCoinPromotion"]),
  },
};

export interface PublicFetchSettings {
  /** Merge identical in-flight public fetches (PUBLIC_FETCH_MERGE, default on). */
  merge: boolean;
  /** How long a cacheable public answer is served from memory, ms (PUBLIC_FETCH_CACHE_TTL_MS, default 2000; 0 = never cached). */
  cacheTtlMs: number;
  /** Cached answers at most (PUBLIC_FETCH_CACHE_MAX_ENTRIES, default 1000). */
  maxEntries: number;
}

export const DEFAULT_PUBLIC_FETCH_SETTINGS: PublicFetchSettings = { merge: true, cacheTtlMs: 2000, maxEntries: 1000 };

interface Entry {
  answer: SubgraphAnswer;
  expiresAt: number;
}

const rootFieldsMemo = new WeakMap<DocumentNode, readonly string[] | null>();

/** The root field names of a subgraph fetch's document (null when it has fragments at the root or is not a query). */
function rootFields(document: DocumentNode): readonly string[] | null {
  let names = rootFieldsMemo.get(document);
  if (names !== undefined) return names;
  names = null;
  const ops = document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION);
  if (ops.length === 1 && ops[0].kind === Kind.OPERATION_DEFINITION && ops[0].operation === "query") {
    const list: string[] = [];
    for (const sel of ops[0].selectionSet.selections) {
      if (sel.kind !== Kind.FIELD) {
        list.length = 0;
        break;
      }
      if (sel.name.value !== "__typename") list.push(sel.name.value);
    }
    names = list.length > 0 ? list : null;
  }
  rootFieldsMemo.set(document, names);
  return names;
}

const mutationFieldsMemo = new WeakMap<DocumentNode, readonly string[]>();

/** Whether a mutation fetch to `subgraph` can change what its cached public answers say. */
export function invalidatingFetch(subgraph: string, document: DocumentNode | undefined): boolean {
  const rule = CACHEABLE_PUBLIC_FIELDS[subgraph]?.invalidatedBy;
  if (!rule) return false;
  if (rule === "any mutation" || !document) return true;
  let names = mutationFieldsMemo.get(document);
  if (!names) {
    const found: string[] = [];
    for (const d of document.definitions) {
      if (d.kind !== Kind.OPERATION_DEFINITION) continue;
      for (const sel of d.selectionSet.selections) found.push(sel.kind === Kind.FIELD ? sel.name.value : "*");
    }
    mutationFieldsMemo.set(document, (names = found));
  }
  return names.some((n) => n === "*" || rule.has(n));
}

/** Whether a fetch's answer may be cached: a query whose every root field is on the subgraph's allow-list. */
export function cacheableFetch(subgraph: string, document: DocumentNode | undefined): boolean {
  const allowed = CACHEABLE_PUBLIC_FIELDS[subgraph]?.fields;
  if (!allowed || !document) return false;
  const names = rootFields(document);
  return names !== null && names.every((n) => allowed.has(n));
}

function cleanAnswer(answer: SubgraphAnswer): boolean {
  if (answer.status !== 200) return false;
  try {
    const body = JSON.parse(answer.body.toString("utf8")) as { data?: unknown; errors?: unknown[] };
    return body.data != null && !(Array.isArray(body.errors) && body.errors.length > 0);
  } catch {
    return false;
  }
}

export class PublicFetches {
  private readonly inflight = new Map<string, Promise<SubgraphAnswer>>();
  private readonly cache = new Map<string, Entry>();
  /** Bumped per subgraph on every invalidation: a fetch caches only if its subgraph's generation did not move. */
  private readonly generations = new Map<string, number>();
  private readonly listeners = new Map<string, PgListener>();
  /** Counters for tests and metrics: fetches sent, callers that joined one in flight, cache hits, invalidations. */
  readonly stats = { sent: 0, merged: 0, hits: 0, invalidations: 0 };

  constructor(
    readonly settings: PublicFetchSettings = DEFAULT_PUBLIC_FETCH_SETTINGS,
    /** Where the owners NOTIFY (every subgraph's schema lives on one server here); none = no cache, merging only. */
    private readonly databaseUrl?: string,
  ) {
    if (databaseUrl && settings.cacheTtlMs > 0) {
      for (const [subgraph, { channel }] of Object.entries(CACHEABLE_PUBLIC_FIELDS)) {
        this.listeners.set(
          subgraph,
          new PgListener({
            databaseUrl,
            channel,
            name: `gateway-public-cache-${subgraph}`,
            onNotify: () => this.invalidate(subgraph),
            onListening: () => this.invalidate(subgraph),
            onLost: () => this.invalidate(subgraph),
          }),
        );
      }
    }
  }

  async start(): Promise<void> {
    await Promise.all([...this.listeners.values()].map((l) => l.start()));
  }

  async stop(): Promise<void> {
    await Promise.all([...this.listeners.values()].map((l) => l.stop()));
    this.cache.clear();
  }

  /** True while `subgraph`'s answers may be served from memory (its change notifications are being received). */
  caching(subgraph: string): boolean {
    return this.listeners.get(subgraph)?.isListening ?? false;
  }

  get cachedEntries(): number {
    return this.cache.size;
  }

  /** Drops `subgraph`'s cached answers (its owner changed something, or its listener reconnected). */
  invalidate(subgraph: string): void {
    this.stats.invalidations++;
    this.generations.set(subgraph, (this.generations.get(subgraph) ?? 0) + 1);
    const prefix = `${subgraph}\0`;
    for (const key of this.cache.keys()) if (key.startsWith(prefix)) this.cache.delete(key);
  }

  /**
   * The answer to a public fetch: from the cache, from an identical fetch in flight, or from
   * `send()`. `body` is the key: the request body as sent by id (data-source.ts, the same whether or
   * not that send also carries the text); `cacheable` from cacheableFetch().
   */
  fetch(subgraph: string, body: string, cacheable: boolean, send: () => Promise<SubgraphAnswer>): Promise<SubgraphAnswer> {
    const key = `${subgraph}\0${body}`;
    const caching = cacheable && this.settings.cacheTtlMs > 0 && this.caching(subgraph);
    if (caching) {
      const hit = this.cache.get(key);
      if (hit && hit.expiresAt > Date.now()) {
        this.stats.hits++;
        return Promise.resolve(hit.answer);
      }
    }
    if (!this.settings.merge && !caching) {
      this.stats.sent++;
      return send();
    }
    const generation = this.generations.get(subgraph) ?? 0;
    // Keyed by generation too: a caller after an invalidation never joins a fetch that began before it.
    const flightKey = `${generation}\0${key}`;
    const running = this.settings.merge ? this.inflight.get(flightKey) : undefined;
    if (running) {
      this.stats.merged++;
      return running;
    }
    this.stats.sent++;
    const p = send().then((answer) => {
      if (caching && this.caching(subgraph) && generation === (this.generations.get(subgraph) ?? 0) && cleanAnswer(answer)) this.store(key, answer);
      return answer;
    });
    if (this.settings.merge) {
      this.inflight.set(flightKey, p);
      const done = () => {
        if (this.inflight.get(flightKey) === p) this.inflight.delete(flightKey);
      };
      p.then(done, done);
    }
    return p;
  }

  private store(key: string, answer: SubgraphAnswer): void {
    if (this.cache.size >= this.settings.maxEntries) {
      const now = Date.now();
      for (const [k, e] of this.cache) if (e.expiresAt <= now) this.cache.delete(k);
      if (this.cache.size >= this.settings.maxEntries) this.cache.clear();
    }
    this.cache.set(key, { answer, expiresAt: Date.now() + this.settings.cacheTtlMs });
  }
}
