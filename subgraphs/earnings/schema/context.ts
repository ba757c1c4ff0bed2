import type DataLoader from "dataloader";
import type { BaseContext } from "../../../platform/subgraph.js";
import type { CreatorRow } from "../db/index.js";
import type { CreatorService } from "../domain/creators.js";
import type { FeedRow } from "../domain/feed.js";
import type { GiftCreditConsumer } from "../transport/gift-credit-consumer.js";
import type { GoalService, LiveGoalRow } from "../domain/goals.js";
import type { VideoTotalsService } from "../domain/videos.js";
import type { GifterLevelRow, GifterLevelService } from "../domain/levels.js";
import type { RankingService } from "../domain/rankings.js";
import type { LeaderboardKey, LeaderboardService, TopGifterRow } from "../domain/leaderboards.js";
import type { PayoutService } from "../domain/payouts.js";
import type { OverlayGrant, OverlayService } from "../domain/overlays.js";
import type { RevenueShareService } from "../domain/shares.js";
import type { PayoutScheduler } from "../domain/payout-scheduler.js";
import type { PayoutHoldService } from "../domain/payout-holds.js";
import type { StatementService } from "../domain/statements.js";
import type { LiveSessionRow, LiveSessionService } from "../domain/sessions.js";
import type { FeedHub } from "../transport/stream/hub.js";
import type { WebhookDispatcher } from "../domain/webhooks/dispatcher.js";
import type { WebhookService } from "../domain/webhooks/service.js";
import type { EventLog } from "../../../platform/eventlog/types.js";
import type { CatalogClient } from "../../catalog/transport/owner-reads-client.js";

export interface EarningsServices {
  creators: CreatorService;
  sessions: LiveSessionService;
  /** The live gift stream (one LISTEN connection per process). */
  stream: FeedHub;
  credits: GiftCreditConsumer;
  /** The event transport (PostgreSQL, or NATS JetStream with NATS_URL; docs/scaling.md). */
  eventLog: EventLog;
  /** With NATS_URL: the outbox relay (gift.sent to JetStream) and the room-feed relay (feed.host/room subjects); empty otherwise. */
  relays: { start(): Promise<void>; stop(): Promise<void> }[];
  leaderboards: LeaderboardService;
  payouts: PayoutService;
  shares: RevenueShareService;
  /** LIVE goals (docs/engagement.md). */
  goals: GoalService;
  /** The catalog's owner read (a goal's gift must exist and be active); LISTENs for its invalidations. */
  catalog: CatalogClient;
  videos: VideoTotalsService;
  levels: GifterLevelService;
  rankings: RankingService;
  /** Partner webhooks: management, and the dispatcher this process runs (null when WEBHOOK_DISPATCH=false). */
  webhooks: WebhookService;
  webhookDispatcher: WebhookDispatcher | null;
  /** Scheduled payout runs (one at a time across instances) and the manual processPayouts. */
  payoutScheduler: PayoutScheduler;
  payoutHolds: PayoutHoldService;
  statements: StatementService;
  overlays: OverlayService;
}

export interface EarningsContext extends BaseContext {
  services: EarningsServices;
  /** Set on a graphql-ws connection opened with an overlay token: that host's giftReceived only. */
  overlay?: OverlayGrant;
  /** Built in index.ts `context`, one set per request (or per subscription operation): N references → one query each. */
  loaders: {
    creator: DataLoader<string, CreatorRow | null>;
    liveSession: DataLoader<string, LiveSessionRow | null>;
    currentLiveSession: DataLoader<string, LiveSessionRow | null>;
    leaderboard: DataLoader<LeaderboardKey, TopGifterRow[], string>;
    /** GiftEvent references, from the gift feed (null until credited). */
    giftEvent: DataLoader<string, FeedRow | null>;
    /** A live session's goals. */
    goals: DataLoader<string, LiveGoalRow[]>;
    gifterLevel: DataLoader<string, GifterLevelRow>;
  };
}
