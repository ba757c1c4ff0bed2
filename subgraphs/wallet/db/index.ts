import { CreateWallet1732300000000 } from "./migrations/1732300000000-CreateWallet.js";
import { Ledger1732300001000 } from "./migrations/1732300001000-Ledger.js";
import { Recharge1732300002000 } from "./migrations/1732300002000-Recharge.js";
import { GiftEvents1732300050000 } from "./migrations/1732300050000-GiftEvents.js";
import { UserProfiles1732300060000 } from "./migrations/1732300060000-UserProfiles.js";
import { MoneyRateLimits1733000000000 } from "./migrations/1733000000000-MoneyRateLimits.js";
import { CoinPackageAdmin1733100000000 } from "./migrations/1733100000000-CoinPackageAdmin.js";
import { PartialRefunds1733100100000 } from "./migrations/1733100100000-PartialRefunds.js";
import { GiftEngagement1733200000000 } from "./migrations/1733200000000-GiftEngagement.js";
import { SendGiftBatches1733400000000 } from "./migrations/1733400000000-SendGiftBatches.js";
import { CoinPackagesNotify1733400100000 } from "./migrations/1733400100000-CoinPackagesNotify.js";
import { SendGiftBalances1733500000000 } from "./migrations/1733500000000-SendGiftBalances.js";
import { GiftEventsUnreadIndexes1733600000000 } from "./migrations/1733600000000-GiftEventsUnreadIndexes.js";
import { SendGiftSetWrites1733700000000 } from "./migrations/1733700000000-SendGiftSetWrites.js";
export { entities, AccountRow } from "./entities.js";

/** In timestamp order (the order TypeORM applies them in); append, never edit a migration that has shipped. */
export const migrations = [
  CreateWallet1732300000000,
  Ledger1732300001000,
  Recharge1732300002000,
  GiftEvents1732300050000,
  UserProfiles1732300060000,
  MoneyRateLimits1733000000000,
  CoinPackageAdmin1733100000000,
  PartialRefunds1733100100000,
  GiftEngagement1733200000000,
  SendGiftBatches1733400000000,
  CoinPackagesNotify1733400100000,
  SendGiftBalances1733500000000,
  GiftEventsUnreadIndexes1733600000000,
  SendGiftSetWrites1733700000000,
];
