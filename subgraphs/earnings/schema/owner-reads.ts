import { Arg, Ctx, Directive, Field, ID, ObjectType, Query, Resolver } from "type-graphql";
import type { EarningsContext } from "./context.js";
import { isUuid } from "../domain/sessions.js";

/**
 * Owner reads for the wallet's sendGift (the client: subgraphs/earnings/transport/owner-reads-client.ts). Marked @inaccessible:
 * they are not part of the public API schema; the wallet calls this subgraph directly.
 */
@Directive("@inaccessible")
@Directive('@tag(name: "internal")')
@ObjectType({ description: "Owner read for sendGift: whether a user can receive gifts." })
export class HostForGifting {
  @Field(() => ID, { description: "The creator's user id." })
  id: string;

  @Field({ description: "False when the creator may not receive gifts (not an adult per their token at creation/refresh)." })
  canReceive: boolean;
}

@Directive("@inaccessible")
@Directive('@tag(name: "internal")')
@ObjectType({ description: "Owner read for sendGift: a live session's host and whether it is live." })
export class LiveSessionForGifting {
  @Field(() => ID, { description: "The live session id." })
  id: string;

  @Field(() => ID, { description: "The host (creator) id." })
  hostId: string;

  @Field({ description: "True while the session is live." })
  live: boolean;
}

@Resolver()
export class OwnerReadResolver {
  @Directive("@inaccessible")
  @Directive('@tag(name: "internal")')
  @Query(() => HostForGifting, { nullable: true, description: "Internal (wallet sendGift): the creator with this id, or null when the user is not a creator." })
  async hostForGifting(@Ctx() ctx: EarningsContext, @Arg("hostId", () => ID) hostId: string): Promise<HostForGifting | null> {
    if (hostId.length === 0 || hostId.length > 128) return null;
    const row = await ctx.loaders.creator.load(hostId);
    return row ? Object.assign(new HostForGifting(), { id: row.id, canReceive: row.canReceiveGifts }) : null;
  }

  @Directive("@inaccessible")
  @Directive('@tag(name: "internal")')
  @Query(() => LiveSessionForGifting, { nullable: true, description: "Internal (wallet sendGift): a live session's host and status, or null when there is no such session." })
  async liveSessionForGifting(@Ctx() ctx: EarningsContext, @Arg("id", () => ID) id: string): Promise<LiveSessionForGifting | null> {
    if (!isUuid(id)) return null;
    const row = await ctx.loaders.liveSession.load(id);
    return row ? Object.assign(new LiveSessionForGifting(), { id: row.id, hostId: row.hostId, live: row.status === "LIVE" }) : null;
  }
}
