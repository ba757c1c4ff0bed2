import type DataLoader from "dataloader";
import type { BaseContext } from "../../../platform/subgraph.js";
import type { GiftAdminService } from "../domain/admin.js";
import type { GiftRecord, GiftService } from "../domain/gifts.js";
import type { PricePeriod, PriceService } from "../domain/prices.js";

export interface CatalogServices {
  gifts: GiftService;
  prices: PriceService;
  admin: GiftAdminService;
  cdnBaseUrl: string;
}

export interface CatalogContext extends BaseContext {
  services: CatalogServices;
  loaders: {
    gift: DataLoader<string, GiftRecord | null>;
    prices: {
      history: DataLoader<string, PricePeriod[]>;
      at: DataLoader<{ giftId: string; at: Date }, PricePeriod | null, string>;
    };
  };
}
