import { CreateEarnings1732300000000 } from "./migrations/1732300000000-CreateEarnings.js";
import { GiftFeed1732300060000 } from "./migrations/1732300060000-GiftFeed.js";
import { CreatorsLiveSessions1732300200000 } from "./migrations/1732300200000-CreatorsLiveSessions.js";
import { DiamondsLedgerPayouts1732300300000 } from "./migrations/1732300300000-DiamondsLedgerPayouts.js";
import { DiamondCarry1732300400000 } from "./migrations/1732300400000-DiamondCarry.js";
import { LiveDirectoryOverlays1732300700000 } from "./migrations/1732300700000-LiveDirectoryOverlays.js";
import { MoneyRateLimits1733000000000 } from "./migrations/1733000000000-MoneyRateLimits.js";
import { PartnerWebhooks1733100000000 } from "./migrations/1733100000000-PartnerWebhooks.js";
import { PayoutOperations1733100200000 } from "./migrations/1733100200000-PayoutOperations.js";
import { FeedTraceparent1733170000000 } from "./migrations/1733170000000-FeedTraceparent.js";
import { LiveGoals1733200000000 } from "./migrations/1733200000000-LiveGoals.js";
import { GiftEngagement1733200100000 } from "./migrations/1733200100000-GiftEngagement.js";
import { GifterLevels1733200200000 } from "./migrations/1733200200000-GifterLevels.js";
import { CreatorRankings1733200300000 } from "./migrations/1733200300000-CreatorRankings.js";
import { GoalReachedWebhooks1733300000000 } from "./migrations/1733300000000-GoalReachedWebhooks.js";
export { entities, CreatorRow } from "./entities.js";

/** In timestamp order (the order TypeORM applies them in); append, never edit a migration that has shipped. */
export const migrations = [
  CreateEarnings1732300000000,
  GiftFeed1732300060000,
  CreatorsLiveSessions1732300200000,
  DiamondsLedgerPayouts1732300300000,
  DiamondCarry1732300400000,
  LiveDirectoryOverlays1732300700000,
  MoneyRateLimits1733000000000,
  PartnerWebhooks1733100000000,
  PayoutOperations1733100200000,
  FeedTraceparent1733170000000,
  LiveGoals1733200000000,
  GiftEngagement1733200100000,
  GifterLevels1733200200000,
  CreatorRankings1733200300000,
  GoalReachedWebhooks1733300000000,
];
