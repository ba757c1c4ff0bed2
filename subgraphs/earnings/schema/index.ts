import { buildFederatedSchema } from "../../common/federation.js";
import { Creator, CreatorResolver, User, UserCreatorResolver, creatorReference, userReference } from "./creator.js";

export function buildEarningsSchema() {
  return buildFederatedSchema(
    { resolvers: [CreatorResolver, UserCreatorResolver], orphanedTypes: [Creator, User] },
    { Creator: creatorReference, User: userReference },
  );
}
