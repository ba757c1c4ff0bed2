import type { FetchNode, PlanNode } from "@apollo/query-planner";
import {
  getNamedType,
  isObjectType,
  Kind,
  parse,
  print,
  valueFromASTUntyped,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from "graphql";
import { FEED_ROW_FIELDS } from "../../platform/feed.js";
import { CALLER_INDEPENDENT_FIELDS } from "./shared-fetches.js";

/**
 * Public streams: root subscription fields whose events are the same for every signed-in caller
 * (earnings only checks that there is a caller, and that the room exists). Only these share one
 * upstream subscription per room. The host's private `giftReceived` is NOT here: earnings
 * authorizes it per host, so it keeps one upstream per client.
 */
export const PUBLIC_STREAMS: Record<string, readonly string[]> = {
  earnings: ["liveGiftFeed"],
};

/**
 * Fields the owning subgraph resolves the same way for every caller, per type, as selected inside
 * a public stream's event (no arguments, no role checks: `Creator.diamonds` is NOT here, it is
 * FORBIDDEN to anyone but the host). `GiftEvent.diamonds` is: on the public feed it is always null.
 */
export const PUBLIC_EVENT_FIELDS: Record<string, Record<string, readonly string[]>> = {
  earnings: {
    GiftEvent: ["id", "senderName", "quantity", "unitCost", "coins", "comboId", "sentAt", "cursor", "comboCount", "comboEnded", "diamonds", "gift", "sender", "host", "liveSession"],
    // The room feed's own type (DECISIONS 59): no diamonds; an anonymous sender is hidden from everyone
    // on it, so message, anonymity, goal progress and levels are the same for every viewer (DECISIONS 66).
    RoomGiftEvent: [
      "id", "senderName", "quantity", "unitCost", "coins", "comboId", "sentAt", "cursor", "comboCount", "comboEnded", "gift", "sender", "host", "liveSession",
      "isTest", "message", "anonymous", "videoId", "goalProgress", "senderLevel", "senderLevelUp",
    ],
    LiveGoalProgress: ["goalId", "title", "progressCoins", "targetCoins", "reached"],
    GifterLevelUp: ["from", "to"],
    Gift: ["id"],
    User: ["id"],
    Creator: ["id", "displayName", "createdAt", "user", "lifetimeDiamonds", "giftsReceived"],
    LiveSession: ["id", "title", "status", "startedAt", "endedAt", "giftCount", "coinsReceived", "uniqueGifters", "host"],
  },
};

/**
 * The public stream the feed bus carries (gateway/subscriptions/feed-bus.ts): a room of it whose
 * selection asks only row fields (platform/feed.ts FEED_ROW_FIELDS) is fed from the bus — NATS, or
 * earnings' stream with one shared selection — and answers its plan's primary fetch itself.
 */
export const FEED_STREAMS: Record<string, { field: string; roomArgument: string }> = {
  earnings: { field: "liveGiftFeed", roomArgument: "liveSessionId" },
};

/** The alias under which a room's upstream always asks for the event's cursor (resume, seam, SLOW_CONSUMER). */
export const CURSOR_ALIAS = "streamCursor__";

/** How a subscription can share work with others of the same room. */
export interface RoomShape {
  /** Same root field, arguments (without `after`) and selection: one upstream subscription for all of them. */
  roomKey: string;
  service: string;
  /** The upstream operation (canonical: no client operation name or variable names; `after` and the cursor always present). */
  upstreamQuery: string;
  /** Its variables without `after` (the room starts live). */
  upstreamVariables: Record<string, unknown>;
  /** The name the upstream uses for the `after` variable. */
  upstreamAfterVariable: string;
  /** Root field name upstream, and its response key in the client's primary fetch (an alias, maybe). */
  fieldName: string;
  responseKey: string;
  /** The client's `after` variable (null: the client passes no `after`). */
  afterVariable: string | null;
  /** True when the rest of the plan asks other subgraphs only caller-independent fields: execute once per event for everyone. */
  sharedExecution: boolean;
  /** Set when the room is fed by the feed bus (every selected earnings field comes from the feed row): which room. */
  feed: { liveSessionId: string } | null;
}

type PrimaryAnalysis = Omit<RoomShape, "roomKey" | "upstreamVariables" | "sharedExecution" | "feed"> & {
  args: { name: string; variable: string | null; literal: unknown }[];
  /** The root field is the bus's stream and the selection asks only row fields. */
  feedable: boolean;
};
/** Per plan node (plans are cached per document and rebuilt with every schema). */
const primaryAnalysis = new WeakMap<FetchNode, PrimaryAnalysis | null>();
const restAnalysis = new WeakMap<object, boolean>();

/**
 * Whether this planned subscription may join a shared room, and how. Null: it stays on the
 * per-client path (a private stream, a caller-dependent field in the owning subgraph's part,
 * a literal `after`, or anything this analysis does not understand).
 */
export function roomShape(
  apiSchema: GraphQLSchema,
  primary: FetchNode,
  rest: PlanNode | undefined,
  primaryVariables: Record<string, unknown>,
): RoomShape | null {
  let a = primaryAnalysis.get(primary);
  if (a === undefined) {
    a = analysePrimary(apiSchema, primary);
    primaryAnalysis.set(primary, a);
  }
  if (!a) return null;
  const upstreamVariables: Record<string, unknown> = {};
  const keyArgs: Record<string, unknown> = {};
  for (const arg of a.args) {
    const value = arg.variable !== null ? primaryVariables[arg.variable] : arg.literal;
    if (value === undefined) continue;
    upstreamVariables[`r_${arg.name}`] = value;
    keyArgs[arg.name] = value;
  }
  const { args: _args, feedable, ...shape } = a;
  const roomArgument = FEED_STREAMS[a.service]?.roomArgument;
  const room = roomArgument ? keyArgs[roomArgument] : undefined;
  const feed = feedable && typeof room === "string" && Object.keys(keyArgs).length === 1 ? { liveSessionId: room } : null;
  return {
    ...shape,
    // Every feed-fed document of one room shares its bus subscription; other selections get an upstream each.
    roomKey: feed ? `feed\n${a.service}\n${a.fieldName}\n${feed.liveSessionId}` : `${a.service}\n${a.upstreamQuery}\n${JSON.stringify(keyArgs)}`,
    upstreamVariables,
    sharedExecution: restIsCallerIndependent(apiSchema, rest),
    feed,
  };
}

function analysePrimary(apiSchema: GraphQLSchema, primary: FetchNode): PrimaryAnalysis | null {
  const streams = PUBLIC_STREAMS[primary.serviceName];
  const allowed = PUBLIC_EVENT_FIELDS[primary.serviceName];
  if (!streams || !allowed) return null;
  let doc: DocumentNode;
  try {
    doc = parse(primary.operation);
  } catch {
    return null;
  }
  const ops = doc.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const fragments = new Map(doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  if (ops.length !== 1 || ops[0].operation !== "subscription") return null;
  const [root, ...more] = ops[0].selectionSet.selections;
  if (more.length || root?.kind !== Kind.FIELD || !root.selectionSet || root.directives?.length) return null;
  if (!streams.includes(root.name.value)) return null;
  const def = apiSchema.getSubscriptionType()?.getFields()[root.name.value];
  const eventType = def && getNamedType(def.type);
  if (!def || !isObjectType(eventType)) return null;
  if (!independent(apiSchema, root.selectionSet, eventType, allowed, fragments)) return null;
  const feedable = FEED_STREAMS[primary.serviceName]?.field === root.name.value && independent(apiSchema, root.selectionSet, eventType, FEED_ROW_FIELDS, fragments);

  let afterVariable: string | null = null;
  const args: PrimaryAnalysis["args"] = [];
  for (const node of root.arguments ?? []) {
    const argDef = def.args.find((x) => x.name === node.name.value);
    if (!argDef) return null;
    if (node.name.value === "after") {
      if (node.value.kind === Kind.VARIABLE) afterVariable = node.value.name.value;
      else if (node.value.kind !== Kind.NULL) return null; // a literal cursor replays: not a live room
      continue;
    }
    if (node.value.kind === Kind.VARIABLE) args.push({ name: node.name.value, variable: node.value.name.value, literal: undefined });
    else args.push({ name: node.name.value, variable: null, literal: valueFromASTUntyped(node.value) });
  }
  const hasAfter = def.args.some((x) => x.name === "after");
  if (!hasAfter) return null;
  const varDefs = args.map((x) => `$r_${x.name}: ${String(def.args.find((d) => d.name === x.name)!.type)}`);
  const argText = args.map((x) => `${x.name}: $r_${x.name}`);
  const selection: SelectionSetNode = {
    ...root.selectionSet,
    selections: [...root.selectionSet.selections, { kind: Kind.FIELD, alias: { kind: Kind.NAME, value: CURSOR_ALIAS }, name: { kind: Kind.NAME, value: "cursor" } } as FieldNode],
  };
  const upstreamQuery =
    `subscription StreamRoom(${[...varDefs, "$r_after: String"].join(", ")}) { ${root.name.value}(${[...argText, "after: $r_after"].join(", ")}) ${print(selection)} }` +
    [...fragments.values()].map((f) => `\n${print(f)}`).join("");
  return {
    service: primary.serviceName,
    upstreamQuery,
    upstreamAfterVariable: "r_after",
    fieldName: root.name.value,
    responseKey: root.alias?.value ?? root.name.value,
    afterVariable,
    args,
    feedable,
  };
}

/** Every field in `set` is listed for its type (nested objects recursively), takes no arguments, no directives. */
function independent(
  schema: GraphQLSchema,
  set: SelectionSetNode,
  type: GraphQLObjectType,
  allowed: Record<string, readonly string[]>,
  fragments: Map<string, FragmentDefinitionNode>,
  depth = 0,
): boolean {
  if (depth > 8) return false;
  return set.selections.every((s) => {
    if (s.directives?.length) return false;
    if (s.kind === Kind.FIELD) {
      if (s.name.value === "__typename") return true;
      if (s.arguments?.length || !(allowed[type.name] ?? []).includes(s.name.value)) return false;
      const field = type.getFields()[s.name.value];
      if (!field) return false;
      const named = getNamedType(field.type);
      if (!s.selectionSet) return !isObjectType(named);
      return isObjectType(named) && independent(schema, s.selectionSet, named, allowed, fragments, depth + 1);
    }
    const fragment = s.kind === Kind.INLINE_FRAGMENT ? s : fragments.get(s.name.value);
    if (!fragment) return false;
    const on = fragment.typeCondition ? schema.getType(fragment.typeCondition.name.value) : type;
    return isObjectType(on) && on.name === type.name && independent(schema, fragment.selectionSet, on, allowed, fragments, depth + 1);
  });
}

/**
 * True when every fetch of the rest of the plan is an `_entities` fetch of caller-independent
 * fields (CALLER_INDEPENDENT_FIELDS: the catalog's public Gift fields). Then the whole result is
 * the same for every viewer and is executed once per event; otherwise each viewer executes it
 * with their own token (the upstream is still shared).
 */
export function restIsCallerIndependent(apiSchema: GraphQLSchema, rest: PlanNode | undefined): boolean {
  if (!rest) return true;
  const cached = restAnalysis.get(rest);
  if (cached !== undefined) return cached;
  const fetches: FetchNode[] = [];
  const ok = collectFetches(rest, fetches) && fetches.every((f) => entityFetchIsIndependent(apiSchema, f));
  restAnalysis.set(rest, ok);
  return ok;
}

function collectFetches(node: PlanNode, out: FetchNode[]): boolean {
  switch (node.kind) {
    case "Fetch":
      out.push(node);
      return true;
    case "Sequence":
    case "Parallel":
      return node.nodes.every((n) => collectFetches(n, out));
    case "Flatten":
      return collectFetches(node.node, out);
    default:
      return false; // conditions, defer, anything new: not shared
  }
}

function entityFetchIsIndependent(apiSchema: GraphQLSchema, fetch: FetchNode): boolean {
  const allowed = CALLER_INDEPENDENT_FIELDS[fetch.serviceName];
  if (!allowed) return false;
  let doc: DocumentNode;
  try {
    doc = parse(fetch.operation);
  } catch {
    return false;
  }
  const [op, ...others] = doc.definitions;
  if (others.length || op?.kind !== Kind.OPERATION_DEFINITION || op.operation !== "query") return false;
  const [root, ...more] = op.selectionSet.selections;
  if (more.length || root?.kind !== Kind.FIELD || root.name.value !== "_entities" || !root.selectionSet) return false;
  return root.selectionSet.selections.every((s) => {
    if (s.kind === Kind.FIELD) return s.name.value === "__typename";
    if (s.kind !== Kind.INLINE_FRAGMENT || !s.typeCondition || s.directives?.length) return false;
    const type = apiSchema.getType(s.typeCondition.name.value);
    return isObjectType(type) && independent(apiSchema, s.selectionSet, type, allowed, new Map());
  });
}
