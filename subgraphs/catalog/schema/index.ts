import { buildFederatedSchema } from "../../common/federation.js";
import { Gift, GiftResolver, giftReference } from "./gift.js";
import { SendingResolver } from "./sending.js";

export function buildCatalogSchema() {
  return buildFederatedSchema({ resolvers: [GiftResolver, SendingResolver], orphanedTypes: [Gift] }, { Gift: giftReference });
}
