import { buildFederatedSchema } from "../../../platform/federation.js";
import { CatalogAdminResolver } from "./admin.js";
import { Gift, GiftResolver, giftReference } from "./gift.js";
import { GiftPriceResolver } from "./price.js";
import { OwnerReadResolver } from "./owner-reads.js";

export function buildCatalogSchema() {
  return buildFederatedSchema(
    { resolvers: [GiftResolver, GiftPriceResolver, OwnerReadResolver, CatalogAdminResolver], orphanedTypes: [Gift] },
    { Gift: giftReference },
  );
}
