import { buildFederatedSchema } from "../../common/federation.js";
import { User, UserResolver, userReference } from "./user.js";

export function buildWalletSchema() {
  return buildFederatedSchema({ resolvers: [UserResolver], orphanedTypes: [User] }, { User: userReference });
}
