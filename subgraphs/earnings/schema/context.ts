import type DataLoader from "dataloader";
import type { BaseContext } from "../../../platform/subgraph.js";
import type { CreatorRow } from "../db/index.js";
import type { CreatorService } from "../domain/creators.js";
import type { GiftCreditConsumer } from "../domain/credits.js";
import type { GoalService } from "../domain/goals.js";
import type { VideoTotalsService } from "../domain/videos.js";
import type { GifterLevelService } from "../domain/levels.js";
import type { RankingService } from "../domain/rankings.js";
import type { LeaderboardKey, LeaderboardService, TopGifterRow } from "../domain/leaderboards.js";
import type { PayoutService } from "../domain/payouts.js";
import type { RevenueShareService } from "../domain/shares.js";
import type { LiveSessionRow, LiveSessionService } from "../domain/sessions.js";
import type { FeedHub } from "../stream/hub.js";
import type { WebhookDispatcher } from "../domain/webhooks/dispatcher.js";
import type { WebhookService } from "../domain/webhooks/service.js";

export interface EarningsServices {
  creators: CreatorService;
  sessions: LiveSessionService;
  /** The live gift stream (one LISTEN connection per process). */
  stream: FeedHub;
  credits: GiftCreditConsumer;
  leaderboards: LeaderboardService;
  payouts: PayoutService;
  shares: RevenueShareService;
  /** LIVE goals (docs/engagement.md). */
  goals: GoalService;
  videos: VideoTotalsService;
  levels: GifterLevelService;
  rankings: RankingService;
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
