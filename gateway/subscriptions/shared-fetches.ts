import type { GraphQLDataSource, GraphQLDataSourceProcessOptions } from "@apollo/gateway";
import { Kind, parse, type SelectionSetNode } from "graphql";

/**
 * Entity fields whose value is the same for every caller (no arguments, no role checks, no
 * per-user data). Only fetches that select nothing else may be shared between subscribers.
 * Keep this list to fields whose resolvers ignore the caller; a test checks they exist and
 * take no arguments.
 */
export const CALLER_INDEPENDENT_FIELDS: Record<string, Record<string, readonly string[]>> = {
  catalog: {
    Gift: ["id", "slug", "name", "description", "coinCost", "category", "imageUrl", "animationUrl", "streakable", "availableFrom", "availableUntil", "regions", "status", "sortOrder"],
  },
};

export interface SharedFetchOptions {
  /** How long a shared answer is reused (default 1,000 ms): the staleness a viewer can see. */
  ttlMs?: number;
  /** Most answers kept (default 1,000). */
  maxEntries?: number;
}

interface Entry {
  answer: Promise<Awaited<ReturnType<GraphQLDataSource["process"]>>>;
  expires: number;
}

/**
 * Why: a big room's public feed delivers each gift to thousands of subscribers, and each of them
 * executes the rest of its plan — the same `_entities` fetch of the same Gift to the catalog. This
 * wrapper answers identical fetches of caller-independent fields once (in flight, then for `ttlMs`),
 * sent WITHOUT the caller's token (the fields are public, and one viewer's expired token must not
 * fail everyone's). Anything else goes through untouched.
 */
export class SharedEntityFetches implements GraphQLDataSource {
  readonly stats = { shared: 0, fetched: 0, passedThrough: 0 };
  private readonly cache = new Map<string, Entry>();
  private readonly decisions = new Map<string, boolean>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;

  constructor(
    private readonly real: GraphQLDataSource,
    private readonly fields: Record<string, readonly string[]>,
    opts: SharedFetchOptions = {},
  ) {
    this.ttlMs = opts.ttlMs ?? 1000;
    this.maxEntries = opts.maxEntries ?? 1000;
  }

  process(options: GraphQLDataSourceProcessOptions): ReturnType<GraphQLDataSource["process"]> {
    const query = options.request.query;
    if (!query || !this.shareable(query)) {
      this.stats.passedThrough++;
      return this.real.process(options);
    }
    const key = `${query}\u0000${JSON.stringify(options.request.variables ?? {})}`;
    const now = Date.now();
    let entry = this.cache.get(key);
    if (entry && entry.expires > now) {
      this.stats.shared++;
    } else {
      this.stats.fetched++;
      const context = options.context as { requestId?: string };
      const anonymous = { ...options, context: { authorization: undefined, requestId: context?.requestId } } as GraphQLDataSourceProcessOptions;
      const answer = this.real.process(anonymous);
      entry = { answer, expires: now + this.ttlMs };
      if (this.cache.size >= this.maxEntries) this.sweep(now);
      this.cache.set(key, entry);
      // A failure is not reused: the next subscriber asks again.
      const stored = entry;
      answer.then(
        (r) => {
          if (r.errors?.length && this.cache.get(key) === stored) this.cache.delete(key);
        },
        () => {
          if (this.cache.get(key) === stored) this.cache.delete(key);
        },
      );
    }
    // Each caller gets its own copy: the plan executor merges answers into its result tree.
    return entry.answer.then((r) => structuredClone({ data: r.data, errors: r.errors, extensions: r.extensions }));
  }

  /** True when the fetch is `_entities` selecting only caller-independent leaf fields of listed types. */
  private shareable(query: string): boolean {
    let decision = this.decisions.get(query);
    if (decision === undefined) {
      decision = this.decide(query);
      if (this.decisions.size >= 1000) this.decisions.clear();
      this.decisions.set(query, decision);
    }
    return decision;
  }

  private decide(query: string): boolean {
    let doc;
    try {
      doc = parse(query);
    } catch {
      return false;
    }
    const [op, ...others] = doc.definitions;
    if (others.length || op?.kind !== Kind.OPERATION_DEFINITION || op.operation !== "query") return false;
    const [root, ...more] = op.selectionSet.selections;
    if (more.length || root?.kind !== Kind.FIELD || root.name.value !== "_entities" || !root.selectionSet) return false;
    return root.selectionSet.selections.every((s) => {
      if (s.kind === Kind.FIELD) return s.name.value === "__typename" && !s.arguments?.length;
      if (s.kind !== Kind.INLINE_FRAGMENT || !s.typeCondition || s.directives?.length) return false;
      const allowed = this.fields[s.typeCondition.name.value];
      return !!allowed && leavesOnly(s.selectionSet, allowed);
    });
  }

  private sweep(now: number): void {
    for (const [k, e] of this.cache) if (e.expires <= now) this.cache.delete(k);
    if (this.cache.size >= this.maxEntries) this.cache.clear();
  }
}

function leavesOnly(set: SelectionSetNode, allowed: readonly string[]): boolean {
  return set.selections.every(
    (s) => s.kind === Kind.FIELD && !s.selectionSet && !s.arguments?.length && !s.directives?.length && !s.alias && (s.name.value === "__typename" || allowed.includes(s.name.value)),
  );
}
