import { buildFederatedSchema } from "../../../platform/federation.js";
import { CatalogAdminResolver } from "./admin.js";
import { Gift, GiftResolver, giftReference } from "./gift.js";
import { GiftPriceResolver } from "./price.js";
import { SendingResolver } from "./sending.js";

export function buildCatalogSchema() {
  return buildFederatedSchema(
    { resolvers: [GiftResolver, GiftPriceResolver, SendingResolver, CatalogAdminResolver], orphanedTypes: [Gift] },
    { Gift: giftReference },
  );
}
