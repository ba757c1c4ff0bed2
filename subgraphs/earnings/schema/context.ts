import type DataLoader from "dataloader";
import type { BaseContext } from "../../../platform/subgraph.js";
import type { CreatorRow } from "../db/index.js";
import type { CreatorService } from "../domain/creators.js";
import type { GiftCreditConsumer } from "../domain/credits.js";
import type { LeaderboardKey, LeaderboardService, TopGifterRow } from "../domain/leaderboards.js";
import type { PayoutService } from "../domain/payouts.js";
import type { RevenueShareService } from "../domain/shares.js";
import type { LiveSessionRow, LiveSessionService } from "../domain/sessions.js";
import type { FeedHub } from "../stream/hub.js";
import type { WebhookDispatcher } from "../domain/webhooks/dispatcher.js";
import type { WebhookService } from "../domain/webhooks/service.js";
import type { EventLog } from "../../../platform/eventlog/types.js";

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
  /** Partner webhooks: management, and the dispatcher this process runs (null when WEBHOOK_DISPATCH=false). */
  webhooks: WebhookService;
  webhookDispatcher: WebhookDispatcher | null;
}

export interface EarningsContext extends BaseContext {
  services: EarningsServices;
  loaders: {
    creator: DataLoader<string, CreatorRow | null>;
    liveSession: DataLoader<string, LiveSessionRow | null>;
    currentLiveSession: DataLoader<string, LiveSessionRow | null>;
    leaderboard: DataLoader<LeaderboardKey, TopGifterRow[], string>;
  };
}
