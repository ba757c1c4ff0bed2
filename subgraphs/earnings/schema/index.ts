import { buildFederatedSchema } from "../../common/federation.js";
import { Creator, CreatorResolver, User, UserCreatorResolver, creatorReference, userReference } from "./creator.js";
import { LiveSession, LiveSessionResolver, liveSessionReference } from "./live-session.js";
import { OwnerReadResolver } from "./owner-reads.js";

export function buildEarningsSchema() {
  return buildFederatedSchema(
    { resolvers: [CreatorResolver, UserCreatorResolver, LiveSessionResolver, OwnerReadResolver], orphanedTypes: [Creator, User, LiveSession] },
    { Creator: creatorReference, User: userReference, LiveSession: liveSessionReference },
  );
}
