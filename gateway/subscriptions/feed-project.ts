import type { FetchNode } from "@apollo/query-planner";
import { Kind, parse, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from "graphql";
import type { RoomFeedEvent } from "../../platform/feed.js";

/** What earnings would have answered for the plan's primary fetch, built from a room event. */
export type FeedProjection = (event: RoomFeedEvent) => Record<string, unknown>;

const projections = new WeakMap<FetchNode, FeedProjection>();

/**
 * The primary fetch's root-field selection applied to a room event (aliases, fragments and
 * `__typename` as GraphQL would): a room fed by the bus answers the plan's primary fetch itself,
 * without earnings executing anything per event. Only selections of FEED_ROW_FIELDS get here
 * (shareable.ts decides), so every field asked is in the event. Cached per plan node.
 */
export function feedProjection(primary: FetchNode): FeedProjection {
  let p = projections.get(primary);
  if (p) return p;
  const doc = parse(primary.operation);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const fragments = new Map(doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  const root = op?.selectionSet.selections[0];
  if (!root || root.kind !== Kind.FIELD || !root.selectionSet) throw new Error("feed projection: the primary fetch has no root field selection");
  const set = root.selectionSet;
  p = (event) => select(event as unknown as Record<string, unknown>, set, fragments);
  projections.set(primary, p);
  return p;
}

function select(obj: Record<string, unknown>, set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, out: Record<string, unknown> = {}): Record<string, unknown> {
  for (const s of set.selections) {
    if (s.kind === Kind.FIELD) {
      const key = s.alias?.value ?? s.name.value;
      const value = obj[s.name.value];
      if (!s.selectionSet) out[key] = value === undefined ? null : value;
      else out[key] = sub(value, s.selectionSet, fragments, out[key]);
      continue;
    }
    const fragment = s.kind === Kind.INLINE_FRAGMENT ? s : fragments.get(s.name.value);
    if (!fragment) continue;
    const on = fragment.typeCondition?.name.value;
    if (on === undefined || on === obj.__typename) select(obj, fragment.selectionSet, fragments, out);
  }
  return out;
}

function sub(value: unknown, set: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>, into: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (Array.isArray(value)) {
    const prior = Array.isArray(into) ? into : [];
    return value.map((v, i) => sub(v, set, fragments, prior[i]));
  }
  // The same response key twice (`gift { id } gift { __typename }`) merges, as GraphQL's field collection does.
  const base = into && typeof into === "object" ? (into as Record<string, unknown>) : {};
  return select(value as Record<string, unknown>, set, fragments, base);
}
