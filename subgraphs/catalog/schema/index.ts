import { buildFederatedSchema } from "../../common/federation.js";
import { Gift, GiftResolver, giftReference } from "./gift.js";

export function buildCatalogSchema() {
  return buildFederatedSchema({ resolvers: [GiftResolver], orphanedTypes: [Gift] }, { Gift: giftReference });
}
