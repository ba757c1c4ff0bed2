import { Arg, Ctx, Directive, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from "type-graphql";
import { forbidden, unauthenticated, type AuthUser } from "../../../platform/auth.js";
import { DomainError, UserError, withUserErrors } from "../../../platform/errors.js";
import { encodeEventCursor, type WebhookStatus, type WebhookSubscriptionRow, type WebhookTopic } from "../domain/webhooks/model.js";
import type { WebhookDeliveryRow } from "../domain/webhooks/service.js";
import type { EarningsContext } from "./context.js";

/**
 * Partner webhooks (docs/partners.md "Webhooks"): partners manage them through the partner
 * endpoint, which calls this subgraph as `partner:<name>` with the `partner` role.
 */
export enum WebhookTopicEnum {
  LIVE_GIFT = "LIVE_GIFT",
  LIVE_STARTED = "LIVE_STARTED",
  LIVE_ENDED = "LIVE_ENDED",
  GOAL_REACHED = "GOAL_REACHED",
}
registerEnumType(WebhookTopicEnum, {
  name: "WebhookTopic",
  description: "What a webhook subscription delivers.",
  valuesConfig: {
    LIVE_GIFT: { description: "A gift (or a combo end) on a room's public feed: the liveGiftFeed event, public fields only." },
    LIVE_STARTED: { description: "A host went live." },
    LIVE_ENDED: { description: "A live session ended." },
    GOAL_REACHED: { description: "A host's LIVE goal reached its target (once per goal): goalId, liveSessionId, hostId, title, targetCoins, giftId, progressCoins, reachedAt." },
  },
});

export enum WebhookSubscriptionStatusEnum {
  VERIFICATION_PENDING = "VERIFICATION_PENDING",
  ENABLED = "ENABLED",
  VERIFICATION_FAILED = "VERIFICATION_FAILED",
  DISABLED = "DISABLED",
}
registerEnumType(WebhookSubscriptionStatusEnum, {
  name: "WebhookSubscriptionStatus",
  description: "Where a webhook subscription is in its life.",
  valuesConfig: {
    VERIFICATION_PENDING: { description: "Created; the challenge POST has not been answered yet. Nothing is delivered before it is." },
    ENABLED: { description: "Verified: events are delivered in order, retried until they succeed." },
    VERIFICATION_FAILED: { description: "The endpoint did not echo the challenge; create the subscription again." },
    DISABLED: { description: "Every attempt failed for the whole retry window (statusReason says since when); replayWebhookEvents re-enables it." },
  },
});

const partnerTag = '@tag(name: "partner")';

@ObjectType({ description: "A partner's webhook endpoint: topics, filter and delivery state." })
export class WebhookSubscription {
  @Directive(partnerTag)
  @Field(() => ID, { description: "Subscription id." })
  id: string;

  @Directive(partnerTag)
  @Field(() => [WebhookTopicEnum], { description: "Topics delivered." })
  topics: WebhookTopic[];

  @Directive(partnerTag)
  @Field({ description: "Where events are POSTed." })
  url: string;

  @Directive(partnerTag)
  @Field(() => ID, { nullable: true, description: "Only this live session's events, when set." })
  liveSessionId: string | null;

  @Directive(partnerTag)
  @Field(() => ID, { nullable: true, description: "Only this host's events, when set." })
  hostId: string | null;

  @Directive(partnerTag)
  @Field(() => WebhookSubscriptionStatusEnum, { description: "Verification and delivery state." })
  status: WebhookStatus;

  @Directive(partnerTag)
  @Field(() => String, { nullable: true, description: "Why the subscription failed verification or was disabled." })
  statusReason: string | null;

  @Directive(partnerTag)
  @Field(() => String, {
    nullable: true,
    description: "HMAC-SHA256 secret of the Webhook-Signature header. Returned once, by createWebhookSubscription; null everywhere else.",
  })
  secret: string | null;

  @Directive(partnerTag)
  @Field({ description: "Cursor of the last event delivered (or passed over by the filter); replay from any earlier cursor." })
  cursor: string;

  @Directive(partnerTag)
  @Field(() => Int, { description: "Failed attempts in a row on the current event (0 when healthy)." })
  failedAttempts: number;

  @Directive(partnerTag)
  @Field({ description: "When the subscription was created." })
  createdAt: Date;

  static from(row: WebhookSubscriptionRow, withSecret = false): WebhookSubscription {
    return Object.assign(new WebhookSubscription(), {
      id: row.id, topics: row.topics, url: row.url, liveSessionId: row.liveSessionId, hostId: row.hostId,
      status: row.status, statusReason: row.statusReason, secret: withSecret ? row.secret : null,
      cursor: encodeEventCursor(row.cursorSeq), failedAttempts: row.attempts, createdAt: row.createdAt,
    });
  }
}

@ObjectType({ description: "One delivery attempt (the delivery log)." })
export class WebhookDelivery {
  @Directive(partnerTag)
  @Field({ description: "The Webhook-Id header sent: the same on every retry of one event." })
  webhookId: string;

  @Directive(partnerTag)
  @Field({ description: "True for the verification challenge, false for an event." })
  verification: boolean;

  @Directive(partnerTag)
  @Field(() => String, { nullable: true, description: "Cursor of the event delivered; null for the verification challenge." })
  eventCursor: string | null;

  @Directive(partnerTag)
  @Field(() => Int, { description: "Attempt number for this event (1 = first try)." })
  attempt: number;

  @Directive(partnerTag)
  @Field(() => Int, { nullable: true, description: "HTTP status the endpoint answered; null when it did not answer (see error)." })
  statusCode: number | null;

  @Directive(partnerTag)
  @Field(() => String, { nullable: true, description: "Network failure or timeout, when there was no HTTP answer." })
  error: string | null;

  @Directive(partnerTag)
  @Field(() => Int, { description: "Time from sending to the end of the answer, in ms." })
  latencyMs: number;

  @Directive(partnerTag)
  @Field({ description: "Whether this attempt counted as delivered (2xx; for verification: 200 echoing the challenge)." })
  delivered: boolean;

  @Directive(partnerTag)
  @Field({ description: "When the attempt was made." })
  attemptedAt: Date;

  static from(r: WebhookDeliveryRow): WebhookDelivery {
    return Object.assign(new WebhookDelivery(), {
      webhookId: r.webhookId, verification: r.kind === "verification", eventCursor: r.eventSeq === null ? null : encodeEventCursor(r.eventSeq),
      attempt: r.attempt, statusCode: r.statusCode, error: r.error, latencyMs: r.latencyMs, delivered: r.delivered, attemptedAt: r.attemptedAt,
    });
  }
}

@InputType({ description: "A new webhook subscription." })
export class CreateWebhookSubscriptionInput {
  @Directive(partnerTag)
  @Field(() => [WebhookTopicEnum], { description: "Topics to deliver (at least one)." })
  topics: WebhookTopic[];

  @Directive(partnerTag)
  @Field({ description: "Endpoint to POST to. HTTPS on a public address in production; at most 2,048 characters." })
  url: string;

  @Directive(partnerTag)
  @Field(() => ID, { nullable: true, description: "Only this live session's events." })
  liveSessionId?: string | null;

  @Directive(partnerTag)
  @Field(() => ID, { nullable: true, description: "Only this host's events." })
  hostId?: string | null;
}

@ObjectType({ description: "Result of createWebhookSubscription / replayWebhookEvents." })
export class WebhookSubscriptionPayload {
  @Directive(partnerTag)
  @Field(() => WebhookSubscription, { nullable: true, description: "The subscription; null when userErrors is not empty." })
  subscription: WebhookSubscription | null;

  @Directive(partnerTag)
  @Field(() => [UserError], { description: "INVALID_INPUT (url, topics, cursor), LIMIT_EXCEEDED (too many subscriptions), NOT_FOUND, INVALID_STATE; empty on success." })
  userErrors: UserError[];
}

@ObjectType({ description: "Result of deleteWebhookSubscription." })
export class DeleteWebhookSubscriptionPayload {
  @Directive(partnerTag)
  @Field(() => ID, { nullable: true, description: "The deleted subscription's id." })
  deletedId: string | null;

  @Directive(partnerTag)
  @Field(() => [UserError], { description: "NOT_FOUND; empty on success." })
  userErrors: UserError[];
}

/** The caller's partner name: only the partner endpoint's identity (`partner:<name>`, role partner) qualifies. */
function requirePartner(user: AuthUser | null | undefined): string {
  if (!user) throw unauthenticated("a partner API key is required (use the partner endpoint)");
  if (!user.roles.includes("partner") || !user.id.startsWith("partner:")) throw forbidden("webhooks are managed with a partner API key on the partner endpoint");
  return user.id.slice("partner:".length);
}

/** Queries answer a DomainError (not found, bad argument) as a typed GraphQL error. */
async function orGraphQLError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof DomainError) throw e.toGraphQLError();
    throw e;
  }
}

@Resolver()
export class WebhookResolver {
  @Directive(partnerTag)
  @Query(() => [WebhookSubscription], { description: "Your webhook subscriptions (partner API key)." })
  async webhookSubscriptions(@Ctx() ctx: EarningsContext): Promise<WebhookSubscription[]> {
    const partner = requirePartner(ctx.user);
    return (await ctx.services.webhooks.list(partner)).map((r) => WebhookSubscription.from(r));
  }

  @Directive(partnerTag)
  @Query(() => [WebhookDelivery], { description: "Delivery attempts of one subscription, newest first (retained 7 days by default)." })
  async webhookDeliveries(
    @Ctx() ctx: EarningsContext,
    @Arg("subscriptionId", () => ID, { description: "The subscription." }) subscriptionId: string,
    @Arg("first", () => Int, { defaultValue: 20, description: "How many attempts, 1 to 100." }) first: number,
  ): Promise<WebhookDelivery[]> {
    const partner = requirePartner(ctx.user);
    return orGraphQLError(async () => (await ctx.services.webhooks.deliveries(partner, subscriptionId, first)).map(WebhookDelivery.from));
  }

  @Directive(partnerTag)
  @Mutation(() => WebhookSubscriptionPayload, {
    description: "Subscribe an endpoint to topics. The endpoint is verified first (it must echo a challenge); the secret is returned only here.",
  })
  async createWebhookSubscription(
    @Ctx() ctx: EarningsContext,
    @Arg("input", () => CreateWebhookSubscriptionInput, { description: "Topics, url and optional filter." }) input: CreateWebhookSubscriptionInput,
  ): Promise<WebhookSubscriptionPayload> {
    const partner = requirePartner(ctx.user);
    return withUserErrors(async () => ({ subscription: WebhookSubscription.from(await ctx.services.webhooks.create(partner, input), true) })) as Promise<WebhookSubscriptionPayload>;
  }

  @Directive(partnerTag)
  @Mutation(() => DeleteWebhookSubscriptionPayload, { description: "Stop and delete a subscription (deliveries in flight may still arrive once)." })
  async deleteWebhookSubscription(
    @Ctx() ctx: EarningsContext,
    @Arg("id", () => ID, { description: "The subscription." }) id: string,
  ): Promise<DeleteWebhookSubscriptionPayload> {
    const partner = requirePartner(ctx.user);
    return withUserErrors(async () => ({ deletedId: await ctx.services.webhooks.delete(partner, id) })) as Promise<DeleteWebhookSubscriptionPayload>;
  }

  @Directive(partnerTag)
  @Mutation(() => WebhookSubscriptionPayload, {
    description: "Redeliver, in order, every matching event after a cursor (within retention), with new Webhook-Ids. Re-enables a DISABLED subscription.",
  })
  async replayWebhookEvents(
    @Ctx() ctx: EarningsContext,
    @Arg("subscriptionId", () => ID, { description: "The subscription." }) subscriptionId: string,
    @Arg("after", { description: "An event cursor (from a delivery body, the delivery log or WebhookSubscription.cursor)." }) after: string,
  ): Promise<WebhookSubscriptionPayload> {
    const partner = requirePartner(ctx.user);
    return withUserErrors(async () => ({ subscription: WebhookSubscription.from(await ctx.services.webhooks.replay(partner, subscriptionId, after)) })) as Promise<WebhookSubscriptionPayload>;
  }
}
