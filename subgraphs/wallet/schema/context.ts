import type DataLoader from "dataloader";
import type { BaseContext } from "../../../platform/subgraph.js";
import type { AccountService, Balance } from "../domain/accounts.js";
import type { GiftEventRecord } from "../domain/gifting.js";
import type { Profile, ProfileService } from "../domain/profiles.js";
import type { GiftingServices } from "../peers.js";
import type { PurchaseServices } from "../purchase.js";

/** `gifting` (sendGift, gift events) and its owner-read clients come from peers.ts. */
export interface WalletServices extends GiftingServices, PurchaseServices {
  accounts: AccountService;
  profiles: ProfileService;
}

export interface WalletContext extends BaseContext {
  services: WalletServices;
  loaders: { balance: DataLoader<string, Balance>; profile: DataLoader<string, Profile | null>; giftEvent: DataLoader<string, GiftEventRecord | null> };
}
