import { CreateEarnings1732300000000 } from "./migrations/1732300000000-CreateEarnings.js";
import { GiftFeed1732300060000 } from "./migrations/1732300060000-GiftFeed.js";
import { CreatorsLiveSessions1732300200000 } from "./migrations/1732300200000-CreatorsLiveSessions.js";
import { DiamondsLedgerPayouts1732300300000 } from "./migrations/1732300300000-DiamondsLedgerPayouts.js";
import { PartnerWebhooks1733100000000 } from "./migrations/1733100000000-PartnerWebhooks.js";
import { PayoutOperations1733100200000 } from "./migrations/1733100200000-PayoutOperations.js";
import { FeedTraceparent1733170000000 } from "./migrations/1733170000000-FeedTraceparent.js";
export { entities, CreatorRow } from "./entities.js";

/** Applied in order; append, never edit a migration that has shipped. */
export const migrations = [CreateEarnings1732300000000, CreatorsLiveSessions1732300200000, GiftFeed1732300060000, DiamondsLedgerPayouts1732300300000, PartnerWebhooks1733100000000, PayoutOperations1733100200000, FeedTraceparent1733170000000];
