import DataLoader from "dataloader";
import { Arg, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Resolver, Root, registerEnumType } from "type-graphql";
import { requireRole } from "../../../platform/auth.js";
import { UserError, withUserErrors } from "../../../platform/errors.js";
import type { GoalProgressSnapshot } from "../domain/engagement.js";
import { goalStatus, type LiveGoalRow, type LiveGoalStatus } from "../domain/goals.js";
import type { EarningsContext } from "./context.js";
import { LiveSession } from "./live-session.js";
import { Gift, GiftEvent } from "./gift-event.js";

export enum LiveGoalStatusEnum {
  ACTIVE = "ACTIVE",
  REACHED = "REACHED",
  EXPIRED = "EXPIRED",
  ENDED = "ENDED",
  CANCELED = "CANCELED",
}
registerEnumType(LiveGoalStatusEnum, {
  name: "LiveGoalStatus",
  description: "Where a LIVE goal is. Progress still counts gifts after REACHED until the goal's endsAt or the session's end.",
  valuesConfig: {
    ACTIVE: { description: "Collecting towards the target." },
    REACHED: { description: "The target was reached (reachedAt says when); the bar may keep filling past 100%." },
    EXPIRED: { description: "endsAt passed before the target was reached." },
    ENDED: { description: "The live session ended before the target was reached." },
    CANCELED: { description: "The host canceled it before it was reached." },
  },
});

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A host's goal bar in a live session (\"1,000 coins for the next song\")." })
export class LiveGoal {
  @Field(() => ID, { description: "Goal id (uuid)." })
  id: string;

  @Field({ description: "What the host promises, 1 to 100 characters." })
  title: string;

  @Field(() => Int, { description: "The target: coins, or — when giftId is set — how many of that gift." })
  targetCoins: number;

  @Field(() => Int, {
    description: "Exact sum of coins (or of the gift's quantity when giftId is set) credited from gifts sent in this session during the goal's life. Keeps counting after the target is reached.",
  })
  progressCoins: number;

  @Field(() => ID, { nullable: true, description: "When set, only this gift counts, by quantity (a TikTok-style gift goal)." })
  giftId: string | null;

  @Field(() => Date, { nullable: true, description: "The sentAt of the gift that crossed the target; set once, never changed." })
  reachedAt: Date | null;

  @Field(() => Date, { nullable: true, description: "When the goal stops counting; null: until the session ends." })
  endsAt: Date | null;

  @Field(() => LiveGoalStatusEnum, { description: "ACTIVE, REACHED, EXPIRED, ENDED or CANCELED." })
  status: LiveGoalStatus;

  @Field({ description: "When the host created it: gifts sent from this moment count." })
  createdAt: Date;

  liveSessionId: string;

  static from(g: LiveGoalRow): LiveGoal {
    return Object.assign(new LiveGoal(), {
      id: g.id,
      title: g.title,
      targetCoins: g.target,
      progressCoins: g.progress,
      giftId: g.giftId,
      reachedAt: g.reachedAt,
      endsAt: g.endsAt,
      status: goalStatus(g),
      createdAt: g.createdAt,
      liveSessionId: g.liveSessionId,
    });
  }
}

@Directive('@tag(name: "partner")')
@ObjectType({ description: "A goal's progress right after one gift: what a goal bar draws from the stream." })
export class LiveGoalProgress {
  @Field(() => ID, { description: "The goal (LiveSession.goals)." })
  goalId: string;

  @Field({ description: "The goal's title at that moment." })
  title: string;

  @Field(() => Int, { description: "Progress after this gift (coins, or the gift's count for a gift goal)." })
  progressCoins: number;

  @Field(() => Int, { description: "The goal's target at that moment." })
  targetCoins: number;

  @Field({ description: "True on exactly one event per goal: the gift that crossed the target." })
  reached: boolean;

  static from(s: GoalProgressSnapshot): LiveGoalProgress {
    return Object.assign(new LiveGoalProgress(), { goalId: s.goalId, title: s.title, progressCoins: s.progress, targetCoins: s.target, reached: s.reached });
  }
}

@InputType({ description: "Create a goal bar in your live session." })
export class CreateLiveGoalInput {
  @Field(() => ID, { description: "Your live session (must be LIVE)." })
  liveSessionId: string;

  @Field({ description: "What the goal is for, 1 to 100 characters." })
  title: string;

  @Field(() => Int, { description: "The target, 1 to 2,147,483,647: coins, or how many of giftId when given." })
  targetCoins: number;

  @Field(() => ID, { nullable: true, description: "Count only this gift (by quantity) instead of all coins. It must exist and be active in the catalog (GIFT_NOT_AVAILABLE otherwise)." })
  giftId?: string | null;

  @Field(() => Date, { nullable: true, description: "Stop counting at this moment (future, at most 24 h ahead); omit for the rest of the session." })
  endsAt?: Date | null;
}

@InputType({ description: "Edit an ACTIVE goal (not yet reached). Omitted fields stay as they are." })
export class UpdateLiveGoalInput {
  @Field(() => ID, { description: "The goal." })
  goalId: string;

  @Field(() => String, { nullable: true, description: "New title, 1 to 100 characters." })
  title?: string | null;

  @Field(() => Int, { nullable: true, description: "New target; must stay above the progress so far." })
  targetCoins?: number | null;

  @Field(() => Date, { nullable: true, description: "New end (future, at most 24 h ahead)." })
  endsAt?: Date | null;

  @Field(() => ID, {
    nullable: true,
    description: "Count this gift instead, by quantity (it must exist and be active in the catalog: GIFT_NOT_AVAILABLE otherwise). progressCoins is recomputed in the new unit from the gifts sent since the goal's creation, and the target must stay above it.",
  })
  giftId?: string | null;
}

@InputType({ description: "Cancel a goal that has not been reached." })
export class CancelLiveGoalInput {
  @Field(() => ID, { description: "The goal." })
  goalId: string;
}

@ObjectType({ description: "Result of createLiveGoal / updateLiveGoal / cancelLiveGoal." })
export class LiveGoalPayload {
  @Field(() => LiveGoal, { nullable: true, description: "The goal; null when userErrors is not empty." })
  goal: LiveGoal | null;

  @Field(() => [UserError], { description: "Business failures (SESSION_NOT_LIVE, LIMIT_EXCEEDED, INVALID_STATE, ...); nothing changed when present." })
  userErrors: UserError[];
}

/** Built in the request context (index.ts): every session's goals in one query. */
export function goalsLoader(ctx: Pick<EarningsContext, "services">): DataLoader<string, LiveGoalRow[]> {
  return new DataLoader((ids: readonly string[]) => ctx.services.goals.bySessions(ids));
}

@Resolver(() => LiveGoal)
export class LiveGoalResolver {
  @Mutation(() => LiveGoalPayload, { description: "Host: add a goal bar to your live session (at most 3 open at once). Progress events ride the gift streams (GiftEvent.goalProgress)." })
  async createLiveGoal(@Ctx() ctx: EarningsContext, @Arg("input", () => CreateLiveGoalInput, { description: "See CreateLiveGoalInput." }) input: CreateLiveGoalInput): Promise<LiveGoalPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ goal: LiveGoal.from(await ctx.services.goals.create(user, input, ctx.authorization)) })) as Promise<LiveGoalPayload>;
  }

  @Mutation(() => LiveGoalPayload, { description: "Host: edit an active goal's title, target (above the progress so far), end or gift." })
  async updateLiveGoal(@Ctx() ctx: EarningsContext, @Arg("input", () => UpdateLiveGoalInput, { description: "See UpdateLiveGoalInput." }) input: UpdateLiveGoalInput): Promise<LiveGoalPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ goal: LiveGoal.from(await ctx.services.goals.update(user, input, ctx.authorization)) })) as Promise<LiveGoalPayload>;
  }

  @Mutation(() => LiveGoalPayload, { description: "Host: cancel a goal before it is reached. Canceling a canceled goal returns it unchanged." })
  async cancelLiveGoal(@Ctx() ctx: EarningsContext, @Arg("input", () => CancelLiveGoalInput, { description: "See CancelLiveGoalInput." }) input: CancelLiveGoalInput): Promise<LiveGoalPayload> {
    const user = requireRole(ctx.user, "host");
    return withUserErrors(async () => ({ goal: LiveGoal.from(await ctx.services.goals.cancel(user, input.goalId)) })) as Promise<LiveGoalPayload>;
  }

  @FieldResolver(() => Gift, { nullable: true, description: "The gift a gift goal counts (the catalog fills in its name and image); null for a coins goal." })
  gift(@Root() goal: LiveGoal): Gift | null {
    return goal.giftId ? Object.assign(new Gift(), { id: goal.giftId }) : null;
  }
}

@Resolver(() => LiveSession)
export class LiveSessionGoalsResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => [LiveGoal], { description: "The session's goals, oldest first, in every status." })
  async goals(@Root() session: LiveSession, @Ctx() ctx: EarningsContext): Promise<LiveGoal[]> {
    return (await ctx.loaders.goals.load(session.id)).map(LiveGoal.from);
  }
}

@Resolver(() => GiftEvent)
export class GiftEventGoalsResolver {
  @Directive('@tag(name: "partner")')
  @FieldResolver(() => [LiveGoalProgress], { description: "The goals this gift advanced, with their progress right after it (empty when none). A goal bar updates from these." })
  goalProgress(@Root() event: GiftEvent): LiveGoalProgress[] {
    return (event.engagement?.goals ?? []).map(LiveGoalProgress.from);
  }
}
