import "reflect-metadata";
import { startSubgraph, type SubgraphDefinition } from "../../platform/subgraph.js";
import { runMain } from "../../platform/main.js";
import { entities, migrations } from "./db/index.js";
import { buildCatalogSchema } from "./schema/index.js";
import { giftLoader } from "./schema/gift.js";
import { priceLoaders } from "./schema/price.js";
import type { CatalogContext, CatalogServices } from "./schema/context.js";
import { seedCatalog } from "./domain/seed.js";
import { catalogServices } from "./services.js";

export const catalog: SubgraphDefinition<CatalogServices, CatalogContext> = {
  name: "catalog",
  entities,
  migrations,
  services: (ds) => catalogServices(ds),
  schema: buildCatalogSchema,
  seed: seedCatalog,
  context: (base, services) => {
    const ctx = { ...base, services } as CatalogContext;
    ctx.loaders = { gift: giftLoader(ctx), prices: priceLoaders(ctx) };
    return ctx;
  },
};

export const startCatalog = (opts: Parameters<typeof startSubgraph>[1]) => startSubgraph(catalog, opts);

runMain(import.meta.url, "catalog", startCatalog);
