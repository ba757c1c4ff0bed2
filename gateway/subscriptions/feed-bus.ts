import type { GraphQLError } from "graphql";
import type { Client } from "graphql-ws";
import type { RoomFeedEvent } from "../../platform/feed.js";
import { badUserInput, GraphQLErrorCode } from "../../platform/codes.js";
import { logger } from "../../platform/logger.js";
import { SERVICE_HEADER, type ServiceSigner } from "../../platform/service-auth.js";
import type { FeedBusConfig } from "../config.js";
import { EarningsFeedBus } from "./feed-bus-earnings.js";
import { NatsFeedBus } from "./feed-bus-nats.js";

/**
 * The live feed of a room (a live session's public gift feed), as the gateway's rooms consume it
 * (docs/scaling.md "Room feed"). Two implementations, one contract (test/support/feedbus-contract.ts):
 * - `EarningsFeedBus` (default): one graphql-ws subscription per room to earnings' `liveGiftFeed`
 *   (earnings reads PostgreSQL, woken by NOTIFY);
 * - `NatsFeedBus` (NATS_URL): one NATS subscription per room on `feed.room.<liveSessionId>`, which
 *   earnings' feed relay publishes; what it may have missed (a reconnect, a gap) and any resume from
 *   a cursor are replayed from earnings (the durable log) up to the seam.
 *
 * The contract: `subscribe(room, after)` delivers every row of the room with seq > after (null: every
 * row committed from about now on), in seq order, each exactly once, until `unsubscribe()`, which
 * releases everything it holds. Replay stays in PostgreSQL: a cursor older than the live tail is
 * read through earnings, and the seam to the tail is found by seq (no gap, no duplicate).
 */
export interface FeedEvent {
  /** earnings.gift_feed.seq: the order of the feed, and what copies are recognised by. */
  seq: number;
  event: RoomFeedEvent;
}

export interface FeedSink {
  next(e: FeedEvent): void;
  /** The feed cannot continue (earnings refused it, shut down, or a gap could not be filled): members resume with their cursor. */
  error(err: GraphQLError): void;
  complete(): void;
}

export interface FeedSubscription {
  unsubscribe(): void;
}

/** Counters a bus moves (the SubscriptionGateway's `stats` carries them; standalone buses get their own). */
export interface FeedBusStats {
  /** graphql-ws subscriptions to earnings (the PostgreSQL bus's rooms, the NATS bus's replays). */
  upstreamSubscriptions: number;
  /** Earnings subscriptions resumed from their last cursor after a drop or a SLOW_CONSUMER cut-off. */
  roomResubscribes: number;
  /** NATS subscriptions (one per room per gateway process). */
  busSubscriptions: number;
  /** Replays from earnings the NATS bus started (a resume, a gap, NATS unreachable). */
  busReplays: number;
  /** Gaps the NATS bus saw in a room's subject (a message whose `prev` it had not delivered). */
  busGaps: number;
  /** Copies dropped by seq (a relay re-publish, the replay and the tail both delivering a row). */
  busDuplicates: number;
}

export const emptyFeedBusStats = (): FeedBusStats => ({ upstreamSubscriptions: 0, roomResubscribes: 0, busSubscriptions: 0, busReplays: 0, busGaps: 0, busDuplicates: 0 });

export interface FeedBus {
  readonly transport: "postgres" | "nats";
  subscribe(liveSessionId: string, after: number | null, sink: FeedSink): FeedSubscription;
  close(): Promise<void>;
}

/** Refuses a room that does not exist (BAD_USER_INPUT, as earnings' stream does); null when it exists or the check could not tell. */
export type RoomCheck = (liveSessionId: string) => Promise<GraphQLError | null>;

/** The bus for this gateway process: NATS when NATS_URL is set, earnings' stream otherwise. */
export function openFeedBus(config: FeedBusConfig, earnings: () => Client, stats: FeedBusStats, opts: { check?: RoomCheck; name?: string } = {}): FeedBus {
  const durable = new EarningsFeedBus(earnings, stats);
  if (!config.natsUrl) return durable;
  return new NatsFeedBus({ url: config.natsUrl, feedSubjectPrefix: config.feedSubjectPrefix, name: opts.name ?? "gateway-feed", check: opts.check }, durable, stats);
}

/**
 * The NATS bus's check of a new room: earnings' stream refuses an unknown live session itself, a
 * NATS subject does not, so the room asks earnings once (`liveSession(id)`, a signed call). A check
 * that fails (earnings unreachable) does not refuse: the subject simply stays quiet.
 */
export function roomCheck(earningsUrl: string, signer: ServiceSigner, timeoutMs = 10_000): RoomCheck {
  return async (liveSessionId) => {
    try {
      const res = await fetch(earningsUrl, {
        method: "POST",
        headers: { "content-type": "application/json", [SERVICE_HEADER]: await signer.header("earnings") },
        body: JSON.stringify({ query: "query FeedBusRoom($id: ID!) { liveSession(id: $id) { id } }", variables: { id: liveSessionId } }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = (await res.json()) as { data?: { liveSession: { id: string } | null } | null; errors?: { extensions?: { code?: string } }[] };
      const refused = body.data?.liveSession === null || body.errors?.some((e) => e.extensions?.code === GraphQLErrorCode.BadUserInput);
      return refused ? badUserInput("no such live session", ["liveSessionId"]) : null;
    } catch (err) {
      logger.warn({ err: err instanceof Error ? err.message : String(err) }, "feed bus: could not check a room with earnings");
      return null;
    }
  };
}
