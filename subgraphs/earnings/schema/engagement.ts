import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Query, Resolver, Root } from "type-graphql";
import type { CreatorRow } from "../db/index.js";
import { leaderboardSize } from "../domain/leaderboards.js";
import { boardMoment, boardScope } from "../domain/rankings.js";
import type { LeaderboardPeriod } from "../domain/revenue.js";
import { LeaderboardPeriodEnum } from "./leaderboards.js";
import { badInput } from "../../../platform/errors.js";
import type { GifterLevelRow } from "../domain/levels.js";
import type { VideoTotalsRow } from "../domain/videos.js";
import type { EarningsContext } from "./context.js";
import { Creator, User, pageSize } from "./creator.js";
import { GiftEvent } from "./gift-event.js";

@Directive('@tag(name: "partner")')
@ObjectType({ description: "Gifts a creator received on one video (outside live sessions)." })
export class VideoGiftTotals {
  @Field(() => ID, { description: "The video (owned outside this graph)." })
  videoId: string;

  @Field(() => Int, { description: "Coins viewers spent on gifts on this video." })
  coins: number;

  @Field(() => Int, { description: "Gifts received on this video (quantity 10 counts 10)." })
  gifts: number;

  @Field({ description: "When the first gift on it was sent." })
  firstGiftAt: Date;

  @Field({ description: "When the latest gift on it was sent." })
  lastGiftAt: Date;

  static from(r: VideoTotalsRow): VideoGiftTotals {
    return Object.assign(new VideoGiftTotals(), r);
  }
}

function videoId(v: string): string {
  if (v.length === 0 || v.length > 128 || /[\u0000-\u001f\u007f]/.test(v)) throw badInput("videoId must be 1-128 characters without control characters", ["videoId"]);
  return v;
}

@Resolver(() => Creator)
export class CreatorVideoResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => VideoGiftTotals, { nullable: true, description: "Gift totals of one of the creator's videos; null when it received no gift." })
  async videoGiftTotals(@Root() creator: Creator, @Ctx() ctx: EarningsContext, @Arg("videoId", () => ID, { description: "The video." }) id: string): Promise<VideoGiftTotals | null> {
    const row = await ctx.services.videos.one(creator.id, videoId(id));
    return row ? VideoGiftTotals.from(row) : null;
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => [VideoGiftTotals], { description: "The creator's videos by coins received from gifts, most first." })
  async topVideos(
    @Root() creator: Creator,
    @Ctx() ctx: EarningsContext,
    @Arg("first", () => Int, { nullable: true, defaultValue: 10, description: "How many, 1 to 100." }) first: number,
  ): Promise<VideoGiftTotals[]> {
    return (await ctx.services.videos.top(creator.id, pageSize(first))).map(VideoGiftTotals.from);
  }
}

// Not in the partner contract: users appear there only as User { id } (DECISIONS 24); partners see levels on GiftEvent.senderLevel.
@ObjectType({ description: "A viewer's gifter level (TikTok-style 1–50), from the coins they have spent on gifts over their lifetime." })
export class GifterLevel {
  @Field(() => Int, { description: "1 to 50. Everyone starts at 1; thresholds are operator data." })
  level: number;

  @Field(() => Int, { nullable: true, description: "Coins still to spend for the next level; null at the top level, and for anyone but the user themselves and admins." })
  coinsToNext: number | null;
}

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A level-up: the gift that moved its sender past one or more level thresholds." })
export class GifterLevelUp {
  @Field(() => Int, { description: "The level before this gift." })
  from: number;

  @Field(() => Int, { description: "The level after it." })
  to: number;
}

/** Built in the request context (index.ts): every user's gifter level in one query. */
export function gifterLevelLoader(ctx: Pick<EarningsContext, "services">): DataLoader<string, GifterLevelRow> {
  return new DataLoader((ids: readonly string[]) => ctx.services.levels.byUsers(ids));
}

@Resolver(() => User)
export class UserGifterLevelResolver {
  @FieldResolver(() => GifterLevel, { description: "The user's gifter level (shown next to their gifts)." })
  async gifterLevel(@Root() user: User, @Ctx() ctx: EarningsContext): Promise<GifterLevel> {
    const row = await ctx.loaders.gifterLevel.load(user.id);
    const self = !!ctx.user && (ctx.user.id === user.id || ctx.user.roles.includes("admin"));
    return Object.assign(new GifterLevel(), { level: row.level, coinsToNext: self ? row.coinsToNext : null });
  }
}

@Resolver(() => GiftEvent)
export class GiftEventLevelResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Int, { nullable: true, description: "The sender's gifter level right after this gift; null when the sender is hidden (anonymous) or on events from before levels existed." })
  senderLevel(@Root() event: GiftEvent): number | null {
    return event.senderHidden ? null : (event.engagement?.senderLevel ?? null);
  }

  @Directive('@tag(name: "partner")')
  @FieldResolver(() => GifterLevelUp, { nullable: true, description: "Set on exactly one event per crossing: the gift that moved its sender to a new level. Null otherwise and when the sender is hidden." })
  senderLevelUp(@Root() event: GiftEvent): GifterLevelUp | null {
    const up = event.engagement?.levelUp;
    return event.senderHidden || !up ? null : Object.assign(new GifterLevelUp(), up);
  }
}

@Directive('@tag(name: "partner")')
@ObjectType({ description: "One place in the platform-wide creator rankings (by diamonds earned in the period)." })
export class CreatorRanking {
  @Field(() => Int, { description: "1 for the top creator. Ties go to whoever got there first." })
  rank: number;

  @Field(() => Creator, { description: "The creator." })
  creator: Creator;

  @Field(() => Int, { description: "Diamonds the creator earned from gifts in the period." })
  diamonds: number;
}

const REGION = /^[A-Z]{2}$/;

@Resolver(() => Creator)
export class CreatorRankingResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => Int, {
    nullable: true,
    description:
      "Where a viewer stands on this creator's board (\"you are #12\"), same order as topGifters; null when unranked. Gifts sent anonymously count only for the viewer themselves (and admins) asking.",
  })
  async gifterRank(
    @Root() creator: Creator,
    @Ctx() ctx: EarningsContext,
    @Arg("userId", () => ID, { description: "The viewer." }) userId: string,
    @Arg("period", () => LeaderboardPeriodEnum, { defaultValue: LeaderboardPeriodEnum.ALL_TIME, description: "The window; ALL_TIME when omitted." }) period: LeaderboardPeriod,
    @Arg("at", () => Date, { nullable: true, description: "The period containing this moment; now when omitted." }) at?: Date | null,
  ): Promise<number | null> {
    if (userId.length === 0 || userId.length > 128) throw badInput("userId is not a user id", ["userId"]);
    const scope = await boardScope(ctx.services.creators.dataSource, creator.id, period, boardMoment(at), at != null);
    return scope ? ctx.services.rankings.gifterRank(creator.id, scope, userId, ctx.user) : null;
  }
}

@Resolver(() => CreatorRanking)
export class CreatorRankingsQueryResolver {
  @Directive('@tag(name: "partner")')
  @Query(() => [CreatorRanking], { description: "Creators ranked by diamonds earned in a calendar period (UTC), platform-wide or in one region (TikTok's LIVE rankings)." })
  async creatorRankings(
    @Ctx() ctx: EarningsContext,
    @Arg("period", () => LeaderboardPeriodEnum, { defaultValue: LeaderboardPeriodEnum.WEEK, description: "DAY, WEEK, MONTH or ALL_TIME (LIVE_SESSION is per creator: BAD_USER_INPUT)." }) period: LeaderboardPeriod,
    @Arg("region", () => String, { nullable: true, description: "Only creators of this region (ISO 3166 alpha-2, e.g. US); all when omitted." }) region?: string | null,
    @Arg("at", () => Date, { nullable: true, description: "The period containing this moment; now when omitted." }) at?: Date | null,
    @Arg("first", () => Int, { nullable: true, defaultValue: 10, description: "How many places, 1 to 100." }) first?: number,
  ): Promise<CreatorRanking[]> {
    if (period === "LIVE_SESSION") throw badInput("creatorRankings covers calendar periods; LIVE_SESSION is per creator", ["period"]);
    if (region != null && !REGION.test(region)) throw badInput("region must be an ISO 3166 alpha-2 code such as US", ["region"]);
    const rows = await ctx.services.rankings.creators(period, region ?? null, boardMoment(at), leaderboardSize(first));
    const creators = await ctx.loaders.creator.loadMany(rows.map((r) => r.creatorId));
    return rows.map((r, i) => Object.assign(new CreatorRanking(), { rank: r.rank, diamonds: r.diamonds, creator: Creator.from(creators[i] as CreatorRow) }));
  }
}
