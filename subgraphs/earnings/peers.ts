import type { DataSource } from "typeorm";
import { CatalogClient, CatalogUnavailableError } from "../catalog/client.js";
import { loadConfig } from "../../platform/config.js";
import { UnavailableError } from "../../platform/errors.js";
import { ServiceSigner } from "../../platform/service-auth.js";
import type { GoalGiftCatalog } from "./domain/goals.js";

/**
 * The earnings subgraph's owner reads: LIVE goals with a giftId ask the catalog whether the gift
 * exists and is active, through the catalog's own client (subgraphs/catalog/client.ts: HTTP
 * GraphQL signed as "earnings", cached, invalidated by the catalog's NOTIFY) — never its tables.
 */
export interface EarningsPeerUrls {
  catalog: string;
}

export interface EarningsPeers {
  catalog: CatalogClient;
  goalGifts: GoalGiftCatalog;
}

export function earningsPeers(ds: DataSource, urls: Partial<EarningsPeerUrls> = {}): EarningsPeers {
  const config = loadConfig();
  const databaseUrl = (ds.options as { url?: string }).url;
  if (!databaseUrl) throw new Error("earnings: the DataSource has no url to LISTEN on for catalog invalidations");
  const catalog = new CatalogClient({ url: urls.catalog ?? config.subgraphUrls.catalog, databaseUrl, signer: new ServiceSigner(config, "earnings") });
  return {
    catalog,
    goalGifts: {
      async goalGift(giftId, region, authorization) {
        try {
          return await catalog.giftForSending(giftId, region, authorization);
        } catch (e) {
          if (!(e instanceof CatalogUnavailableError)) throw e;
          throw new UnavailableError("the catalog is temporarily unavailable; nothing was changed, retry", e);
        }
      },
    },
  };
}
