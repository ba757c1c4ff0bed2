import { CreateCatalog1732300000000 } from "./migrations/1732300000000-CreateCatalog.js";
import { PricePeriodsRegionsNotify1732400000000 } from "./migrations/1732400000000-PricePeriodsRegionsNotify.js";
import { LocalGiftAssets1732500000000 } from "./migrations/1732500000000-LocalGiftAssets.js";
export { entities, GiftRow, CategoryRow, GiftPriceRow, RegionRow } from "./entities.js";

/** In timestamp order (the order TypeORM applies them in); append, never edit a migration that has shipped. */
export const migrations = [
  CreateCatalog1732300000000,
  PricePeriodsRegionsNotify1732400000000,
  LocalGiftAssets1732500000000,
];
