import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Query, Resolver, Root } from "type-graphql";
import { requireSelfOrAdmin } from "../../../platform/auth.js";
import { badInput } from "../../../platform/errors.js";
import type { CreatorRow } from "../db/index.js";
import type { EarningsContext } from "./context.js";
// creator.ts → live-session.ts, never back: the links between the two types (Creator.currentLiveSession,
// Creator.liveSessions, LiveSession.host) are all resolved here.
import { LiveSession } from "./live-session.js";

@Directive('@key(fields: "id")')
@ObjectType({ description: "A platform user; the earnings subgraph adds their creator profile." })
export class User {
  @Directive('@tag(name: "partner")')
  @Field(() => ID, { description: "The user's id (the identity provider's subject)." })
  id: string;
}

@Directive('@key(fields: "id")')
@ObjectType({ description: "A host who receives gifts and earns diamonds." })
export class Creator {
  @Directive('@tag(name: "partner")')
  @Field(() => ID, { description: "The creator's user id." })
  id: string;

  @Directive('@tag(name: "partner")')
  @Field({ description: "Display name from the creator's token when they last acted as a host." })
  displayName: string;

  @Directive('@tag(name: "partner")')
  @Field({ description: "When the user first acted as a host." })
  createdAt: Date;

  static from(row: CreatorRow): Creator {
    return Object.assign(new Creator(), { id: row.id, displayName: row.displayName, createdAt: row.createdAt });
  }
}

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A page of live sessions, newest first." })
export class LiveSessionPage {
  @Field(() => [LiveSession], { description: "The sessions on this page." })
  nodes: LiveSession[];

  @Field(() => String, { nullable: true, description: "Pass as `after` to get the next page; null when the page is empty." })
  endCursor: string | null;

  @Field({ description: "True when more sessions follow." })
  hasNextPage: boolean;
}

export function creatorLoader(ctx: Pick<EarningsContext, "services">) {
  return new DataLoader((ids: readonly string[]) => ctx.services.creators.byIds(ids));
}

export const creatorReference = {
  async __resolveReference(ref: { id: string }, ctx: EarningsContext): Promise<Creator | null> {
    const row = await ctx.loaders.creator.load(ref.id);
    return row ? Creator.from(row) : null;
  },
};

export const userReference = {
  __resolveReference(ref: { id: string }): User {
    return Object.assign(new User(), { id: ref.id });
  },
};

export function pageSize(first: number | null | undefined, max = 100): number {
  const n = first ?? 20;
  if (!Number.isInteger(n) || n < 1 || n > max) throw badInput(`first must be between 1 and ${max}`, ["first"]);
  return n;
}

@Resolver(() => Creator)
export class CreatorResolver {
  @Directive('@tag(name: "partner")')
  @Query(() => Creator, { nullable: true, description: "A creator's public profile; null when the user has never been a host." })
  async creator(@Ctx() ctx: EarningsContext, @Arg("id", () => ID, { description: "The creator's user id." }) id: string): Promise<Creator | null> {
    if (id.length === 0 || id.length > 128) throw badInput("id is not a creator id", ["id"]);
    const row = await ctx.loaders.creator.load(id);
    return row ? Creator.from(row) : null;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => User, { description: "The user behind the creator profile." })
  user(@Root() creator: Creator): User {
    return Object.assign(new User(), { id: creator.id });
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => LiveSession, { nullable: true, description: "The session the creator is live in now; null when not live." })
  async currentLiveSession(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<LiveSession | null> {
    const row = await ctx.loaders.currentLiveSession.load(creator.id);
    return row ? LiveSession.from(row) : null;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => LiveSessionPage, {
    description: "The creator's live sessions, newest first.",
    deprecationReason: "Use liveSessionsConnection (a Relay connection: edges { cursor node } pageInfo), the one pagination style of the graph.",
  })
  async liveSessions(
    @Root() creator: Creator,
    @Ctx() ctx: EarningsContext,
    @Arg("first", () => Int, { nullable: true, defaultValue: 20, description: "Page size, 1 to 100." }) first: number,
    @Arg("after", () => String, { nullable: true, description: "endCursor of the previous page." }) after?: string | null,
  ): Promise<LiveSessionPage> {
    const page = await ctx.services.sessions.list(creator.id, pageSize(first), after);
    return Object.assign(new LiveSessionPage(), { ...page, nodes: page.nodes.map(LiveSession.from) });
  }
}

@Resolver(() => User)
export class UserCreatorResolver {
  @FieldResolver(() => Creator, { nullable: true, description: "The user's creator profile, when they have been a host. Reading your own as a host creates it." })
  async creatorProfile(@Root() user: User, @Ctx() ctx: EarningsContext): Promise<Creator | null> {
    // Hosts become creators the first time they act as one; reading their own profile is such an act.
    if (ctx.user && ctx.user.id === user.id && ctx.user.roles.includes("host")) {
      const row = await ctx.services.creators.ensure(ctx.user);
      ctx.loaders.creator.clear(user.id).prime(user.id, row);
      return Creator.from(row);
    }
    const row = await ctx.loaders.creator.load(user.id);
    return row ? Creator.from(row) : null;
  }
}

/** The creator's totals, read from the creator row (one loader query for every creator in the request). */
@Resolver(() => Creator)
export class CreatorTotalsResolver {
  @Directive('@tag(name: "internal")')
  @FieldResolver(() => Int, { nullable: true, description: "Spendable diamonds. Only the creator and admins may read it (FORBIDDEN otherwise)." })
  async diamonds(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<number | null> {
    requireSelfOrAdmin(ctx.user, creator.id);
    return (await ctx.loaders.creator.load(creator.id))?.diamonds ?? 0;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Int, { description: "Diamonds earned from gifts since the creator started (payouts do not reduce it)." })
  async lifetimeDiamonds(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<number> {
    return (await ctx.loaders.creator.load(creator.id))?.lifetimeDiamonds ?? 0;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Int, { description: "Gifts received (a gift sent with quantity 10 counts 10)." })
  async giftsReceived(@Root() creator: Creator, @Ctx() ctx: EarningsContext): Promise<number> {
    return (await ctx.loaders.creator.load(creator.id))?.giftsReceived ?? 0;
  }
}

@Resolver(() => LiveSession)
export class LiveSessionHostResolver {
  @FieldResolver(() => Creator, { description: "The host of the session." })
  async host(@Root() s: LiveSession, @Ctx() ctx: EarningsContext): Promise<Creator> {
    return Creator.from((await ctx.loaders.creator.load(s.hostId))!);
  }
}
