import { PgListener } from "../../../platform/pg-listener.js";
import { SERVICE_HEADER, type ServiceSigner } from "../../../platform/service-auth.js";

/**
 * The owner read other subgraphs use for the catalog's authoritative price and sendability
 * (the wallet's sendGift). It calls the catalog subgraph over HTTP GraphQL (the @inaccessible
 * `giftsForSending` field) and caches answers in-process.
 *
 * Freshness (changes visible within 2 s):
 * - The catalog's database triggers NOTIFY `catalog_changed` (payload: gift id) at the commit of
 *   any change to a gift or its prices. This client LISTENs on its own connection and drops that
 *   gift's entries at once. Listening is not reading the catalog's tables.
 * - Time-driven changes (a window opens or closes, a scheduled price takes effect) send no NOTIFY:
 *   the catalog returns `stableUntil`, the next such instant, and the entry expires then.
 * - A short TTL (default 5 s) is the safety net; while the listener is down nothing is cached, and
 *   the cache is cleared when it (re)connects, since notifications may have been missed meanwhile.
 * - A fetch that was in flight when a notification for its gift arrived is not cached.
 *
 * Calls made in the same tick are batched into one HTTP request per forwarded Authorization header
 * (one aliased field, hence one SQL query, per region).
 */
export const CATALOG_CHANNEL = "catalog_changed";

export type NotSendableReason = "RETIRED" | "NOT_STARTED" | "ENDED" | "NOT_IN_REGION";

export interface SendableGift {
  id: string;
  name: string;
  /** Price of one gift in coins, in force now. */
  coinCost: number;
  streakable: boolean;
  sendable: boolean;
  reason: null | NotSendableReason;
}

export interface CatalogClientOptions {
  /** Signs each request with the caller's service credential (the catalog subgraph answers only signed callers). */
  signer: ServiceSigner;
  /** The catalog subgraph's GraphQL URL (CATALOG_URL). */
  url: string;
  /** Where to LISTEN for catalog change notifications (the catalog's PostgreSQL). */
  databaseUrl: string;
  /** Safety-net cache lifetime; default 5000 ms. 0 disables caching. */
  ttlMs?: number;
  /** HTTP timeout per request; default 3000 ms. */
  timeoutMs?: number;
  /** Upper bound on cached (gift, region) answers; default 10,000. */
  maxEntries?: number;
}

/** The catalog could not be asked (down, timeout, bad answer). Callers must not guess a price. */
export class CatalogUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CatalogUnavailableError";
  }
}

interface Entry {
  value: SendableGift | null;
  expiresAt: number;
}

interface Pending {
  giftId: string;
  region?: string;
  resolve: (v: SendableGift | null) => void;
  reject: (e: unknown) => void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REGION = /^[A-Z]{2}$/;
/** The catalog answers at most 200 ids per field; keep requests small. */
const MAX_IDS = 200;
const MAX_FIELDS = 20;
const FIELDS = "id name coinCost streakable sendable reason stableUntil";

/** One HTTP request for several regions: one aliased giftsForSending per region. */
function batchQuery(regions: string[]): string {
  const vars = regions.map((_, i) => `$ids${i}: [ID!]!, $region${i}: String!`).join(", ");
  const fields = regions.map((_, i) => `r${i}: giftsForSending(ids: $ids${i}, region: $region${i}) { ${FIELDS} }`).join("\n  ");
  return `query GiftsForSending(${vars}) {\n  ${fields}\n}`;
}

export class CatalogClient {
  private readonly ttlMs: number;
  private readonly timeoutMs: number;
  /** giftId → region → entry */
  private readonly cache = new Map<string, Map<string, Entry>>();
  /** Bumped per gift on every notification; a fetch caches only if its gift's generation did not move. */
  private readonly generations = new Map<string, number>();
  /** Bumped when everything is invalidated (listener lost or reconnected). */
  private epoch = 0;
  private readonly inflight = new Map<string, Promise<SendableGift | null>>();
  /** authorization → region → pending reads of the current tick */
  private batches = new Map<string, Map<string, Pending[]>>();
  private flushScheduled = false;
  private readonly listener: PgListener;
  private entries = 0;
  private readonly maxEntries: number;
  /** Counters for tests and metrics. */
  readonly stats = { requests: 0, hits: 0, misses: 0, invalidations: 0 };

  constructor(private readonly opts: CatalogClientOptions) {
    this.ttlMs = opts.ttlMs ?? 5000;
    this.timeoutMs = opts.timeoutMs ?? 3000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.listener = new PgListener({
      databaseUrl: opts.databaseUrl,
      channel: CATALOG_CHANNEL,
      name: "catalog-client-listener",
      onNotify: (giftId) => this.invalidate(giftId || undefined),
      // Anything cached before (or while not) listening may have missed a notification.
      onListening: () => this.clear(),
      onLost: () => this.clear(),
    });
  }

  /** Starts listening for catalog changes; until then (and while the listener is down) nothing is cached. */
  async start(): Promise<void> {
    await this.listener.start();
  }

  async stop(): Promise<void> {
    await this.listener.stop();
    this.clear();
  }

  /** Number of cached (gift, region) answers. */
  get cachedEntries(): number {
    let n = 0;
    for (const perRegion of this.cache.values()) n += perRegion.size;
    return n;
  }

  /** True while change notifications are being received (answers may be served from cache). */
  get isListening(): boolean {
    return this.listener.isListening;
  }

  /**
   * The gift's authoritative current price and sendability for a sender in `region`;
   * null when no such gift exists. Throws CatalogUnavailableError when the catalog cannot answer.
   */
  async giftForSending(giftId: string, region: string, authorization?: string): Promise<SendableGift | null> {
    if (!UUID.test(giftId)) return null;
    if (!REGION.test(region)) throw new RangeError(`region must be an ISO 3166 alpha-2 code, got ${JSON.stringify(region)}`);
    const id = giftId.toLowerCase();
    const hit = this.cache.get(id)?.get(region);
    if (hit && hit.expiresAt > Date.now()) {
      this.stats.hits++;
      return hit.value;
    }
    this.stats.misses++;
    // Keyed by generation too: a call made after an invalidation never joins a fetch that began before it.
    const key = `${id}|${region}|${authorization ?? ""}|${this.epoch}:${this.generations.get(id) ?? 0}`;
    const running = this.inflight.get(key);
    if (running) return running;
    const p = this.fetchOne(id, region, authorization).finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }

  /** Drops cached answers for one gift (or all). Also called by the NOTIFY listener. */
  invalidate(giftId?: string): void {
    this.stats.invalidations++;
    if (!giftId || giftId === "*") {
      this.clear();
      return;
    }
    const id = giftId.toLowerCase();
    this.generations.set(id, (this.generations.get(id) ?? 0) + 1);
    this.cache.delete(id);
  }

  /** Bounds memory (e.g. a flood of random gift ids): drop expired entries, and everything if still too many. */
  private sweep(): void {
    const now = Date.now();
    let n = 0;
    for (const [id, perRegion] of this.cache) {
      for (const [region, e] of perRegion) {
        if (e.expiresAt <= now) perRegion.delete(region);
        else n++;
      }
      if (perRegion.size === 0) this.cache.delete(id);
    }
    this.entries = n;
    if (n >= this.maxEntries) {
      this.cache.clear();
      this.entries = 0;
    }
  }

  private clear(): void {
    this.epoch++;
    this.entries = 0;
    this.cache.clear();
    this.generations.clear();
  }

  private async fetchOne(id: string, region: string, authorization: string | undefined): Promise<SendableGift | null> {
    const generation = this.generations.get(id) ?? 0;
    const epoch = this.epoch;
    const listening = this.listener.isListening;
    const raw = await new Promise<RawSendable | null>((resolve, reject) => this.enqueue(region, authorization, { giftId: id, resolve: resolve as never, reject }));
    const value: SendableGift | null = raw
      ? { id: raw.id, name: raw.name, coinCost: raw.coinCost, streakable: raw.streakable, sendable: raw.sendable, reason: raw.reason }
      : null;
    // Cache only when nothing could have been missed while we were asking.
    if (listening && this.listener.isListening && this.ttlMs > 0 && epoch === this.epoch && generation === (this.generations.get(id) ?? 0)) {
      let expiresAt = Date.now() + this.ttlMs;
      if (raw?.stableUntil) expiresAt = Math.min(expiresAt, Date.parse(raw.stableUntil));
      if (expiresAt > Date.now()) {
        if (++this.entries > this.maxEntries) this.sweep();
        let perRegion = this.cache.get(id);
        if (!perRegion) this.cache.set(id, (perRegion = new Map()));
        perRegion.set(region, { value, expiresAt });
      }
    }
    return value;
  }

  private enqueue(region: string, authorization: string | undefined, p: Pending): void {
    // Batched per forwarded Authorization header (never one caller's token for another's read), across regions.
    const key = authorization ?? "";
    let byRegion = this.batches.get(key);
    if (!byRegion) this.batches.set(key, (byRegion = new Map()));
    const list = byRegion.get(region);
    if (list) list.push({ ...p, region });
    else byRegion.set(region, [{ ...p, region }]);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.flushScheduled = false;
    const batches = this.batches;
    this.batches = new Map();
    for (const [authorization, byRegion] of batches) {
      // Chunks of at most MAX_IDS per region field (the catalog refuses more).
      const groups: { region: string; pending: Pending[] }[] = [];
      for (const [region, pending] of byRegion) {
        for (let i = 0; i < pending.length; i += MAX_IDS) groups.push({ region, pending: pending.slice(i, i + MAX_IDS) });
      }
      for (let i = 0; i < groups.length; i += MAX_FIELDS) {
        const chunk = groups.slice(i, i + MAX_FIELDS);
        this.request(chunk.map((g) => ({ ids: g.pending.map((p) => p.giftId), region: g.region })), authorization || undefined).then(
          (answers) => chunk.forEach((g, j) => g.pending.forEach((p, k) => p.resolve(answers[j][k] as never))),
          (err) => chunk.forEach((g) => g.pending.forEach((p) => p.reject(err))),
        );
      }
    }
  }

  private async request(groups: { ids: string[]; region: string }[], authorization: string | undefined): Promise<(RawSendable | null)[][]> {
    this.stats.requests++;
    const variables: Record<string, unknown> = {};
    groups.forEach((g, i) => {
      variables[`ids${i}`] = g.ids;
      variables[`region${i}`] = g.region;
    });
    let res: Response;
    try {
      res = await fetch(this.opts.url, {
        method: "POST",
        headers: { "content-type": "application/json", [SERVICE_HEADER]: await this.opts.signer.header("catalog"), ...(authorization ? { authorization } : {}) },
        body: JSON.stringify({ query: batchQuery(groups.map((g) => g.region)), variables, operationName: "GiftsForSending" }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new CatalogUnavailableError(`catalog unreachable: ${e instanceof Error ? e.message : String(e)}`);
    }
    let body: { data?: Record<string, (RawSendable | null)[] | undefined>; errors?: { message: string }[] };
    try {
      body = (await res.json()) as typeof body;
    } catch {
      throw new CatalogUnavailableError(`catalog answered HTTP ${res.status} without JSON`);
    }
    const lists = groups.map((_, i) => body.data?.[`r${i}`]);
    if (body.errors?.length || lists.some((l, i) => !Array.isArray(l) || l.length !== groups[i].ids.length)) {
      throw new CatalogUnavailableError(`catalog answered HTTP ${res.status}: ${body.errors?.map((e) => e.message).join("; ") ?? "unexpected shape"}`);
    }
    return lists as (RawSendable | null)[][];
  }
}

interface RawSendable extends SendableGift {
  stableUntil: string | null;
}
