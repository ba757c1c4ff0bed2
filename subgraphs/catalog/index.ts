import "reflect-metadata";
import { loadConfig } from "../../platform/config.js";
import { startSubgraph, type SubgraphDefinition } from "../../platform/subgraph.js";
import { runMain } from "../../platform/main.js";
import { entities, migrations } from "./db/index.js";
import { GiftAdminService } from "./domain/admin.js";
import { GiftService } from "./domain/gifts.js";
import { PriceService } from "./domain/prices.js";
import { seedCatalog } from "./domain/seed.js";
import { buildCatalogSchema } from "./schema/index.js";
import { giftLoader } from "./schema/gift.js";
import { priceLoaders } from "./schema/price.js";
import type { CatalogContext, CatalogServices } from "./schema/context.js";

export const catalog: SubgraphDefinition<CatalogServices, CatalogContext> = {
  name: "catalog",
  entities,
  migrations,
  services: (ds) => {
    const cdnBaseUrl = loadConfig().cdnBaseUrl;
    const gifts = new GiftService(ds);
    return { gifts, prices: new PriceService(ds), admin: new GiftAdminService(ds, gifts, cdnBaseUrl), cdnBaseUrl };
  },
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
