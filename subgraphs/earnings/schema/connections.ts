import { Arg, Ctx, Directive, Field, FieldResolver, Int, ObjectType, Resolver, Root } from "type-graphql";
import { requireSelfOrAdmin } from "../../../platform/auth.js";
import { encodeCursor } from "../domain/sessions.js";
import type { EarningsContext } from "./context.js";
import { Creator, pageSize } from "./creator.js";
import { Payout } from "./payouts.js";
import { LiveSession } from "./live-session.js";

/**
 * Relay connections for the creator's lists, shaped like the wallet's `transactions` (one
 * pagination style in the whole graph). The older `{ nodes endCursor hasNextPage }` fields stay,
 * deprecated, until clients have moved (schema/CHANGELOG.md).
 */
@Directive("@shareable")
@Directive('@tag(name: "partner")')
@ObjectType({ description: "Relay pagination state." })
export class PageInfo {
  @Field({ description: "More items after this page." })
  hasNextPage: boolean;

  @Field({ description: "This page was requested with a cursor (there are items before it)." })
  hasPreviousPage: boolean;

  @Field(() => String, { nullable: true, description: "Cursor of the first edge on this page." })
  startCursor: string | null;

  @Field(() => String, { nullable: true, description: "Cursor of the last edge on this page; pass as `after` for the next page." })
  endCursor: string | null;
}

@Directive('@tag(name: "partner")')
@ObjectType({ description: "An edge of a list of live sessions." })
export class LiveSessionEdge {
  @Field({ description: "Opaque; pass as `after` to continue after this session." })
  cursor: string;

  @Field(() => LiveSession, { description: "The session." })
  node: LiveSession;
}

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A page of live sessions, in the order the field that returns it states (a creator's history: newest first; liveSessions: busiest first)." })
export class LiveSessionConnection {
  @Field(() => [LiveSessionEdge], { description: "Sessions on this page." })
  edges: LiveSessionEdge[];

  @Field(() => PageInfo, { description: "Pagination state." })
  pageInfo: PageInfo;
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "An edge of a creator's payouts." })
export class PayoutEdge {
  @Field({ description: "Opaque; pass as `after` to continue after this payout." })
  cursor: string;

  @Field(() => Payout, { description: "The payout." })
  node: Payout;
}

@Directive('@tag(name: "internal")')
@ObjectType({ description: "A creator's payouts, newest first." })
export class PayoutConnection {
  @Field(() => [PayoutEdge], { description: "Payouts on this page, newest first." })
  edges: PayoutEdge[];

  @Field(() => PageInfo, { description: "Pagination state." })
  pageInfo: PageInfo;
}

interface Page<T> {
  nodes: T[];
  endCursor: string | null;
  hasNextPage: boolean;
}

/** The domain pages by the last item's id; each edge's cursor is that same encoding of its own id. */
function edgesOf<T extends { id: string }, E>(page: Page<T>, after: string | null | undefined, edge: new () => E): { edges: E[]; pageInfo: PageInfo } {
  const edges = page.nodes.map((node) => Object.assign(new edge() as object, { cursor: encodeCursor(node.id), node }) as E);
  const pageInfo = Object.assign(new PageInfo(), {
    hasNextPage: page.hasNextPage,
    hasPreviousPage: after !== null && after !== undefined,
    startCursor: page.nodes.length ? encodeCursor(page.nodes[0].id) : null,
    endCursor: page.endCursor,
  });
  return { edges, pageInfo };
}

@Resolver(() => Creator)
export class CreatorConnectionsResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => LiveSessionConnection, { description: "The creator's live sessions, newest first (Relay connection)." })
  async liveSessionsConnection(
    @Root() creator: Creator,
    @Ctx() ctx: EarningsContext,
    @Arg("first", () => Int, { nullable: true, defaultValue: 20, description: "Page size, 1 to 100." }) first: number,
    @Arg("after", () => String, { nullable: true, description: "Continue after this cursor (an edge's cursor or pageInfo.endCursor)." }) after?: string | null,
  ): Promise<LiveSessionConnection> {
    const page = await ctx.services.sessions.list(creator.id, pageSize(first), after);
    return Object.assign(new LiveSessionConnection(), edgesOf({ ...page, nodes: page.nodes.map(LiveSession.from) }, after, LiveSessionEdge));
  }

  @Directive('@tag(name: "internal")')
  @FieldResolver(() => PayoutConnection, {
    nullable: true,
    description: "The creator's payouts, newest first (Relay connection). Only the creator and admins: anyone else gets null here with a FORBIDDEN error, the creator stands.",
  })
  async payoutsConnection(
    @Root() creator: Creator,
    @Ctx() ctx: EarningsContext,
    @Arg("first", () => Int, { nullable: true, defaultValue: 20, description: "Page size, 1 to 100." }) first: number,
    @Arg("after", () => String, { nullable: true, description: "Continue after this cursor (an edge's cursor or pageInfo.endCursor)." }) after?: string | null,
  ): Promise<PayoutConnection> {
    requireSelfOrAdmin(ctx.user, creator.id);
    const page = await ctx.services.payouts.list(creator.id, pageSize(first), after);
    return Object.assign(new PayoutConnection(), edgesOf({ ...page, nodes: page.nodes.map(Payout.from) }, after, PayoutEdge));
  }
}
