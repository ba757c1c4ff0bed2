import { buildFederatedSchema } from "../../../platform/federation.js";
// Import order is registration order: type-graphql prints fields (Creator's, LiveSession's, Mutation's)
// in the order their resolvers load, so the committed SDL (schema/) depends on it. Add new modules at the end.
import { Creator, CreatorResolver, CreatorTotalsResolver, LiveSessionHostResolver, User, UserCreatorResolver, creatorReference, userReference } from "./creator.js";
import { LiveSession, LiveSessionResolver, liveSessionReference } from "./live-session.js";
import { CreatorLeaderboardResolver, LiveSessionLeaderboardResolver } from "./leaderboards.js";
import { CreatorPayoutsResolver, PayoutResolver } from "./payouts.js";
import { CreatorRevenueShareResolver, RevenueShareResolver } from "./revenue-shares.js";
import { OwnerReadResolver } from "./owner-reads.js";
import { CreatorConnectionsResolver } from "./connections.js";
import { RoomGiftEvent, RoomGiftEventResolver } from "./room-feed.js";
import { GiftStreamResolver } from "./subscription.js";
import { Gift, GiftEvent, GiftEventLiveSessionResolver, GiftEventStreamResolver, giftEventReference } from "./gift-event.js";
import { noPubSub } from "../transport/stream/pubsub.js";
import { WebhookResolver } from "./webhooks.js";
import { CreatorStatementResolver } from "./statements.js";
import { CreatorPayoutHoldResolver, PayoutHoldResolver, PayoutLifecycleResolver } from "./payout-ops.js";
import { LiveDirectoryResolver } from "./live-directory.js";
import { CreatorOverlayResolver, OverlayResolver } from "./overlay.js";
import { CreatorRankingResolver, CreatorRankingsQueryResolver, CreatorVideoResolver, GiftEventLevelResolver, UserGifterLevelResolver } from "./engagement.js";
import { GiftEventGoalsResolver, LiveGoalResolver, LiveSessionGoalsResolver } from "./goals.js";
import { RoomGiftEventEngagementResolver } from "./room-engagement.js";

export function buildEarningsSchema() {
  return buildFederatedSchema(
    {
      resolvers: [
        CreatorResolver,
        UserCreatorResolver,
        CreatorTotalsResolver,
        LiveSessionHostResolver,
        LiveSessionResolver,
        OwnerReadResolver,
        CreatorLeaderboardResolver,
        LiveSessionLeaderboardResolver,
        CreatorPayoutsResolver,
        PayoutResolver,
        CreatorRevenueShareResolver,
        RevenueShareResolver,
        GiftStreamResolver,
        GiftEventStreamResolver,
        GiftEventLiveSessionResolver,
        PayoutLifecycleResolver,
        CreatorPayoutHoldResolver,
        PayoutHoldResolver,
        CreatorStatementResolver,
        WebhookResolver,
        CreatorConnectionsResolver,
        RoomGiftEventResolver,
        LiveDirectoryResolver,
        OverlayResolver,
        CreatorOverlayResolver,
        LiveGoalResolver,
        LiveSessionGoalsResolver,
        GiftEventGoalsResolver,
        CreatorVideoResolver,
        GiftEventLevelResolver,
        UserGifterLevelResolver,
        CreatorRankingResolver,
        CreatorRankingsQueryResolver,
        RoomGiftEventEngagementResolver,
      ],
      orphanedTypes: [Creator, User, LiveSession, Gift, GiftEvent, RoomGiftEvent],
      pubSub: noPubSub,
    },
    { Creator: creatorReference, User: userReference, LiveSession: liveSessionReference, GiftEvent: giftEventReference },
  );
}
