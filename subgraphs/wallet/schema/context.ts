import type DataLoader from "dataloader";
import type { BaseContext } from "../../common/subgraph.js";
import type { AccountService, Balance } from "../domain/accounts.js";

export interface WalletServices {
  accounts: AccountService;
}

export interface WalletContext extends BaseContext {
  services: WalletServices;
  loaders: { balance: DataLoader<string, Balance> };
}
