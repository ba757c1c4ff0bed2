import type DataLoader from "dataloader";
import type { BaseContext } from "../../common/subgraph.js";
import type { CreatorRow } from "../db/index.js";
import type { CreatorService } from "../domain/creators.js";

export interface EarningsServices {
  creators: CreatorService;
}

export interface EarningsContext extends BaseContext {
  services: EarningsServices;
  loaders: { creator: DataLoader<string, CreatorRow | null> };
}
