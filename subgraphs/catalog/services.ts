import type { DataSource } from "typeorm";
import { loadCatalogConfig, type CatalogConfig } from "./config.js";
import { GiftAdminService } from "./domain/admin.js";
import { GiftService } from "./domain/gifts.js";
import { PriceService } from "./domain/prices.js";
import type { CatalogServices } from "./schema/context.js";

/** The catalog's services for one process (index.ts `services`). The catalog reads from no other subgraph. */
export function catalogServices(ds: DataSource, config: CatalogConfig = loadCatalogConfig()): CatalogServices {
  const gifts = new GiftService(ds);
  return { gifts, prices: new PriceService(ds), admin: new GiftAdminService(ds, gifts, config.cdnBaseUrl), cdnBaseUrl: config.cdnBaseUrl };
}
