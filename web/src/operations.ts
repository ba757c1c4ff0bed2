// Every GraphQL operation the app sends, in one place. Leaderboards name people with User.displayName.
import { gql } from "@apollo/client";

export const LIVE_SESSIONS = gql`
  query LiveSessions($first: Int, $after: String, $region: String) {
    liveSessions(first: $first, after: $after, region: $region) {
      edges {
        cursor
        node { id title startedAt giftCount coinsReceived uniqueGifters region host { id displayName } }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

/** A goal bar's fields (room, studio, overlay). */
const GOAL_FIELDS = `id title targetCoins progressCoins giftId status reachedAt endsAt gift { id name imageUrl }`;

export const ROOM = gql`
  query Room($id: ID!) {
    liveSession(id: $id) {
      id title status startedAt giftCount coinsReceived uniqueGifters
      host { id displayName }
      topGifters(first: 5) { rank coins gifts anonymous sender { id displayName } }
      goals { ${GOAL_FIELDS} }
    }
    gifts { id name coinCost imageUrl streakable }
  }
`;

export const ME = gql`
  query Me {
    me { id wallet { coins debt } gifterLevel { level coinsToNext } }
  }
`;

export const COIN_PACKAGES = gql`
  query CoinPackages {
    coinPackages { id coins bonusCoins totalCoins price { formatted } }
  }
`;

const ORDER_FIELDS = `order { id status totalCoins price { formatted } failureCode nextAction { type redirectUrl } }
  userErrors { code message field retryAfterSeconds }`;

export const RECHARGE = gql`
  mutation Recharge($input: RechargeInput!) {
    recharge(input: $input) { ${ORDER_FIELDS} }
  }
`;

export const CONFIRM_RECHARGE = gql`
  mutation ConfirmRecharge($orderId: ID!) {
    confirmRecharge(orderId: $orderId) { ${ORDER_FIELDS} }
  }
`;

export const SEND_GIFT = gql`
  mutation SendGift($input: SendGiftInput!) {
    sendGift(input: $input) {
      giftEvent { id coins quantity senderBalanceAfter }
      userErrors { code message currentUnitCost balance shortfall retryAfterSeconds }
    }
  }
`;

export const STUDIO = gql`
  query Studio($id: ID!) {
    creator(id: $id) {
      id displayName diamonds lifetimeDiamonds giftsReceived
      currentLiveSession {
        id title status startedAt giftCount coinsReceived diamondsEarned uniqueGifters
        topGifters(first: 10) { rank coins gifts anonymous sender { id displayName } }
        goals { ${GOAL_FIELDS} }
      }
      topGifters(period: ALL_TIME, first: 10) { rank coins gifts anonymous sender { id displayName } }
      payouts(first: 10) { nodes { id diamonds amount { formatted } status failureReason requestedAt } }
      overlayTokens { id createdAt }
    }
    gifts { id name coinCost imageUrl }
  }
`;

/** Reading your own profile as a host creates it (first visit to the studio). */
export const ENSURE_CREATOR = gql`
  query EnsureCreator {
    me { id creatorProfile { id } }
  }
`;

export const START_LIVE = gql`
  mutation StartLive($title: String!) {
    startLiveSession(input: { title: $title }) { liveSession { id status } userErrors { code message } }
  }
`;

export const END_LIVE = gql`
  mutation EndLive($id: ID!) {
    endLiveSession(input: { id: $id }) { liveSession { id status } userErrors { code message } }
  }
`;

export const REQUEST_PAYOUT = gql`
  mutation RequestPayout($diamonds: Int!, $key: String!) {
    requestPayout(input: { diamonds: $diamonds, idempotencyKey: $key }) { payout { id status } userErrors { code message balance shortfall retryAfterSeconds } }
  }
`;

export const CANCEL_PAYOUT = gql`
  mutation CancelPayout($id: ID!) {
    cancelPayout(input: { id: $id }) { payout { id status } userErrors { code message } }
  }
`;

export const CREATE_OVERLAY_TOKEN = gql`
  mutation CreateOverlayToken {
    createOverlayToken { token url overlayToken { id createdAt } userErrors { code message } }
  }
`;

export const REVOKE_OVERLAY_TOKEN = gql`
  mutation RevokeOverlayToken($id: ID!) {
    revokeOverlayToken(input: { id: $id }) { overlayToken { id revokedAt } userErrors { code message } }
  }
`;

export const SEND_TEST_GIFT = gql`
  mutation SendTestGift($giftId: ID!, $quantity: Int) {
    sendTestGift(input: { giftId: $giftId, quantity: $quantity }) { giftEvent { id isTest } userErrors { code message } }
  }
`;

const GOAL_PAYLOAD = `goal { ${GOAL_FIELDS} } userErrors { code message field }`;

export const CREATE_GOAL = gql`
  mutation CreateGoal($input: CreateLiveGoalInput!) {
    createLiveGoal(input: $input) { ${GOAL_PAYLOAD} }
  }
`;

export const UPDATE_GOAL = gql`
  mutation UpdateGoal($input: UpdateLiveGoalInput!) {
    updateLiveGoal(input: $input) { ${GOAL_PAYLOAD} }
  }
`;

export const CANCEL_GOAL = gql`
  mutation CancelGoal($goalId: ID!) {
    cancelLiveGoal(input: { goalId: $goalId }) { ${GOAL_PAYLOAD} }
  }
`;

/**
 * The overlay's goal bars: a public read of the host's current session, polled every few seconds
 * and on each (re)connect, so goals the host creates, edits or cancels appear without a reload.
 */
export const OVERLAY_GOALS = gql`
  query OverlayGoals($hostId: ID!) {
    creator(id: $hostId) { id currentLiveSession { id goals { ${GOAL_FIELDS} } } }
  }
`;

const EVENT_FIELDS = `id cursor senderName quantity coins comboId comboCount comboEnded sentAt sender { id } gift { id name imageUrl }
  message anonymous senderLevel senderLevelUp { from to } goalProgress { goalId title progressCoins targetCoins reached }`;

/** A room's public feed (anonymous viewers too). Strings: sent with graphql-ws directly (cursor resume). */
export const ROOM_FEED = `subscription RoomFeed($liveSessionId: ID!, $after: String) {
  liveGiftFeed(liveSessionId: $liveSessionId, after: $after) { ${EVENT_FIELDS} }
}`;

/** The host's stream as the overlay (overlay token) or the studio (JWT) reads it. */
export const HOST_GIFTS = `subscription HostGifts($hostId: ID!, $after: String) {
  giftReceived(hostId: $hostId, after: $after) { ${EVENT_FIELDS} isTest }
}`;

/** The OBS overlay: connection_init { overlayToken } names the host, so no hostId. */
export const OVERLAY_GIFTS = `subscription OverlayGifts($after: String) {
  giftReceived(after: $after) { ${EVENT_FIELDS} isTest host { id } }
}`;
