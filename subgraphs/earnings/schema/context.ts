import type DataLoader from "dataloader";
import type { BaseContext } from "../../common/subgraph.js";
import type { CreatorRow } from "../db/index.js";
import type { CreatorService } from "../domain/creators.js";
import type { LiveSessionRow, LiveSessionService } from "../domain/sessions.js";
import type { FeedHub } from "../stream/hub.js";

export interface EarningsServices {
  creators: CreatorService;
  sessions: LiveSessionService;
  /** The live gift stream (one LISTEN connection per process). */
  stream: FeedHub;
}

export interface EarningsContext extends BaseContext {
  services: EarningsServices;
  loaders: {
    creator: DataLoader<string, CreatorRow | null>;
    liveSession: DataLoader<string, LiveSessionRow | null>;
    currentLiveSession: DataLoader<string, LiveSessionRow | null>;
  };
}
