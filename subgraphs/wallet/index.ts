import "reflect-metadata";
import { startSubgraph, type SubgraphDefinition } from "../common/subgraph.js";
import { runMain } from "../common/main.js";
import { entities, migrations } from "./db/index.js";
import { AccountService } from "./domain/accounts.js";
import { buildWalletSchema } from "./schema/index.js";
import { balanceLoader } from "./schema/user.js";
import type { WalletContext, WalletServices } from "./schema/context.js";

export const wallet: SubgraphDefinition<WalletServices, WalletContext> = {
  name: "wallet",
  entities,
  migrations,
  services: (ds) => ({ accounts: new AccountService(ds) }),
  schema: buildWalletSchema,
  context: (base, services) => {
    const ctx = { ...base, services } as WalletContext;
    ctx.loaders = { balance: balanceLoader(ctx) };
    return ctx;
  },
};

export const startWallet = (opts: Parameters<typeof startSubgraph>[1]) => startSubgraph(wallet, opts);

runMain(import.meta.url, "wallet", startWallet);
