import "reflect-metadata";
import { startSubgraph, type SubgraphDefinition } from "../common/subgraph.js";
import { runMain } from "../common/main.js";
import { entities, migrations } from "./db/index.js";
import { CreatorService } from "./domain/creators.js";
import { buildEarningsSchema } from "./schema/index.js";
import { creatorLoader } from "./schema/creator.js";
import type { EarningsContext, EarningsServices } from "./schema/context.js";

export const earnings: SubgraphDefinition<EarningsServices, EarningsContext> = {
  name: "earnings",
  entities,
  migrations,
  services: (ds) => ({ creators: new CreatorService(ds) }),
  schema: buildEarningsSchema,
  context: (base, services) => {
    const ctx = { ...base, services } as EarningsContext;
    ctx.loaders = { creator: creatorLoader(ctx) };
    return ctx;
  },
};

export const startEarnings = (opts: Parameters<typeof startSubgraph>[1]) => startSubgraph(earnings, opts);

runMain(import.meta.url, "earnings", startEarnings);
