import type DataLoader from "dataloader";
import type { BaseContext } from "../../common/subgraph.js";
import type { GiftRecord } from "../domain/gifts.js";
import type { GiftService } from "../domain/gifts.js";

export interface CatalogServices {
  gifts: GiftService;
  cdnBaseUrl: string;
}

export interface CatalogContext extends BaseContext {
  services: CatalogServices;
  loaders: { gift: DataLoader<string, GiftRecord | null> };
}
