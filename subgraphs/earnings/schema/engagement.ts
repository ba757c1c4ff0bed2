import { Arg, Ctx, Directive, Field, FieldResolver, ID, Int, ObjectType, Resolver, Root } from "type-graphql";
import { badInput } from "../../../platform/errors.js";
import type { VideoTotalsRow } from "../domain/videos.js";
import type { EarningsContext } from "./context.js";
import { Creator, pageSize } from "./creator.js";

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
