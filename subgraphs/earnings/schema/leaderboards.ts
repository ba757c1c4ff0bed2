import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, Int, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { leaderboardSize, type LeaderboardKey, type TopGifterRow } from "../domain/leaderboards.js";
import { boardMoment, boardScope } from "../domain/rankings.js";
import { sessionScope, type LeaderboardPeriod } from "../domain/revenue.js";
import type { EarningsContext } from "./context.js";
import { Creator, User } from "./creator.js";
import { LiveSession } from "./live-session.js";

/** Leaderboards of gifters: `Creator.topGifters` (by period) and `LiveSession.topGifters`. */
export enum LeaderboardPeriodEnum {
  LIVE_SESSION = "LIVE_SESSION",
  DAY = "DAY",
  WEEK = "WEEK",
  MONTH = "MONTH",
  ALL_TIME = "ALL_TIME",
}
registerEnumType(LeaderboardPeriodEnum, {
  name: "LeaderboardPeriod",
  description: "The window a leaderboard covers. Calendar periods are UTC; weeks start on Monday.",
  valuesConfig: {
    LIVE_SESSION: { description: "The session the creator is live in now, or their latest session when not live." },
    DAY: { description: "Today (UTC)." },
    WEEK: { description: "This week (UTC, from Monday 00:00)." },
    MONTH: { description: "This calendar month (UTC)." },
    ALL_TIME: { description: "Since the creator's first gift." },
  },
});

@Directive('@tag(name: "partner")')
@ObjectType({ description: "One place on a creator's leaderboard of gifters." })
export class TopGifter {
  @Field(() => Int, { description: "1 for the top gifter. Ties in coins go to whoever reached the total first." })
  rank: number;

  @Field(() => User, { nullable: true, description: "The viewer who sent the gifts; null for an anonymous entry (gifts sent anonymously are ranked, never named)." })
  sender: User | null;

  @Field({ description: "True for an entry of gifts sent anonymously: counted and ranked, shown as \"Anonymous\"." })
  anonymous: boolean;

  @Field(() => Int, { description: "Coins the viewer spent on gifts to this creator in the period." })
  coins: number;

  @Field(() => Int, { description: "Gifts the viewer sent in the period (quantity 10 counts 10)." })
  gifts: number;

  static from(r: TopGifterRow): TopGifter {
    return Object.assign(new TopGifter(), { rank: r.rank, sender: r.senderId === null ? null : Object.assign(new User(), { id: r.senderId }), anonymous: r.anonymous, coins: r.coins, gifts: r.gifts });
  }
}

/** Built in the request context (index.ts): every board asked for in one request, batched. */
export function leaderboardLoader(ctx: Pick<EarningsContext, "services">) {
  return new DataLoader<LeaderboardKey, TopGifterRow[], string>((keys) => ctx.services.leaderboards.top(keys), {
    cacheKeyFn: (k) => `${k.hostId}\u0000${k.scope}\u0000${k.first}`,
  });
}

@Resolver(() => Creator)
export class CreatorLeaderboardResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => [TopGifter], { description: "The viewers who spent the most coins on gifts to this creator in the period." })
  async topGifters(
    @Root() creator: Creator,
    @Ctx() ctx: EarningsContext,
    @Arg("period", () => LeaderboardPeriodEnum, { defaultValue: LeaderboardPeriodEnum.ALL_TIME, description: "The window; ALL_TIME when omitted." }) period: LeaderboardPeriod,
    @Arg("first", () => Int, { nullable: true, defaultValue: 10, description: "How many places, 1 to 100." }) first: number,
    @Arg("at", () => Date, { nullable: true, description: "Read the board of the period containing this moment (e.g. last week's); now when omitted. LIVE_SESSION: the session that had started by then." }) at?: Date | null,
  ): Promise<TopGifter[]> {
    const n = leaderboardSize(first);
    const scope = at == null ? await ctx.services.leaderboards.scopeForCreator(creator.id, period) : await boardScope(ctx.services.creators.dataSource, creator.id, period, boardMoment(at), true);
    if (!scope) return [];
    return (await ctx.loaders.leaderboard.load({ hostId: creator.id, scope, first: n })).map(TopGifter.from);
  }
}

@Resolver(() => LiveSession)
export class LiveSessionLeaderboardResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => [TopGifter], { description: "The viewers who spent the most coins on gifts in this session." })
  async topGifters(
    @Root() session: LiveSession,
    @Ctx() ctx: EarningsContext,
    @Arg("first", () => Int, { nullable: true, defaultValue: 10, description: "How many places, 1 to 100." }) first: number,
  ): Promise<TopGifter[]> {
    const rows = await ctx.loaders.leaderboard.load({ hostId: session.hostId, scope: sessionScope(session.id), first: leaderboardSize(first) });
    return rows.map(TopGifter.from);
  }
}
