import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, ID, InputType, Int, Mutation, ObjectType, Resolver, registerEnumType } from "type-graphql";
import { requireRole } from "../../../platform/auth.js";
import { UserError, withUserErrors } from "../../../platform/errors.js";
import type { LiveSessionRow, LiveSessionStatus } from "../domain/sessions.js";
import type { EarningsContext } from "./context.js";

export enum LiveSessionStatusEnum {
  LIVE = "LIVE",
  ENDED = "ENDED",
}
registerEnumType(LiveSessionStatusEnum, {
  name: "LiveSessionStatus",
  description: "Whether a live session is on air.",
  valuesConfig: { LIVE: { description: "On air: gifts sent with this session id are accepted." }, ENDED: { description: "Over; its totals are final once in-flight gifts are credited." } },
});

@Directive('@key(fields: "id")')
@ObjectType({ description: "One broadcast by a host, with its gift totals." })
export class LiveSession {
  @Directive('@tag(name: "partner")')
  @Field(() => ID, { description: "Live session id (uuid)." })
  id: string;

  hostId: string;

  @Directive('@tag(name: "partner")')
  @Field({ description: "Title the host gave the session." })
  title: string;

  @Directive('@tag(name: "partner")')
  @Field(() => LiveSessionStatusEnum, { description: "LIVE or ENDED." })
  status: LiveSessionStatus;

  @Directive('@tag(name: "partner")')
  @Field({ description: "When the session started." })
  startedAt: Date;

  @Directive('@tag(name: "partner")')
  @Field(() => Date, { nullable: true, description: "When the session ended; null while live." })
  endedAt: Date | null;

  @Directive('@tag(name: "partner")')
  @Field(() => Int, { description: "Gifts received during the session (a gift sent with quantity 10 counts 10)." })
  giftCount: number;

  @Directive('@tag(name: "partner")')
  @Field(() => Int, { description: "Coins viewers spent on gifts in this session." })
  coinsReceived: number;

  @Directive('@tag(name: "internal")')
  @Field(() => Int, { description: "Diamonds the host earned in this session." })
  diamondsEarned: number;

  @Directive('@tag(name: "partner")')
  @Field(() => Int, { description: "Distinct viewers who sent at least one gift in this session." })
  uniqueGifters: number;

  @Field({ description: "The host's region (two-letter code) when the session started." })
  region: string;

  static from(row: LiveSessionRow): LiveSession {
    return Object.assign(new LiveSession(), row);
  }
}

export function liveSessionLoader(ctx: Pick<EarningsContext, "services">) {
  return new DataLoader((ids: readonly string[]) => ctx.services.sessions.byIds(ids));
}

export function currentLiveSessionLoader(ctx: Pick<EarningsContext, "services">) {
  return new DataLoader((hostIds: readonly string[]) => ctx.services.sessions.currentByHosts(hostIds));
}

export const liveSessionReference = {
  async __resolveReference(ref: { id: string }, ctx: EarningsContext): Promise<LiveSession | null> {
    const row = await ctx.loaders.liveSession.load(ref.id);
    return row ? LiveSession.from(row) : null;
  },
};

@InputType({ description: "Start a live session." })
export class StartLiveSessionInput {
  @Field({ description: "Session title, 1 to 200 characters." })
  title: string;
}

@InputType({ description: "End a live session." })
export class EndLiveSessionInput {
  @Field(() => ID, { description: "The live session to end." })
  id: string;
}

@ObjectType({ description: "Result of startLiveSession / endLiveSession." })
export class LiveSessionPayload {
  @Field(() => LiveSession, { nullable: true, description: "The session; null when userErrors is not empty." })
  liveSession: LiveSession | null;

  @Field(() => [UserError], { description: "Business failures (e.g. ALREADY_LIVE); empty on success." })
  userErrors: UserError[];
}

@Resolver(() => LiveSession)
export class LiveSessionResolver {
  @Mutation(() => LiveSessionPayload, { description: "Go live (host role). One live session at a time: ALREADY_LIVE otherwise." })
  async startLiveSession(@Ctx() ctx: EarningsContext, @Arg("input", () => StartLiveSessionInput, { description: "What to do; each field is described on the input type." }) input: StartLiveSessionInput): Promise<LiveSessionPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ liveSession: LiveSession.from(await ctx.services.sessions.start(user, input.title)) })) as Promise<LiveSessionPayload>;
  }

  @Mutation(() => LiveSessionPayload, { description: "End one of your live sessions (host role). Ending an ended session returns it unchanged." })
  async endLiveSession(@Ctx() ctx: EarningsContext, @Arg("input", () => EndLiveSessionInput, { description: "What to do; each field is described on the input type." }) input: EndLiveSessionInput): Promise<LiveSessionPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ liveSession: LiveSession.from(await ctx.services.sessions.end(user, input.id)) })) as Promise<LiveSessionPayload>;
  }
}
