/**
 * Event contracts between subgraphs. Payloads are versioned by adding optional
 * fields only; a breaking change gets a new type name.
 */
export const GIFT_SENT = "gift.sent";

/** Written by the wallet in the sendGift transaction; consumed once by earnings. */
export interface GiftSentPayload {
  /** The GiftEvent id (uuid): consumers dedupe on it. */
  giftEventId: string;
  senderId: string;
  /** Display name from the sender's token at send time. */
  senderName: string;
  hostId: string;
  liveSessionId: string | null;
  giftId: string;
  /** Coins per gift at send time (the catalog price the sender paid). */
  unitCost: number;
  quantity: number;
  /** unitCost × quantity: what the sender was debited. */
  coins: number;
  comboId: string | null;
  /** ISO-8601. */
  sentAt: string;
  /** Optional (absent on older events): the gift's message, up to 150 characters, already moderated. */
  message?: string | null;
  /** Optional: true when the sender chose to stay anonymous (hide them on every public surface). */
  anonymous?: boolean;
  /** Optional: the video (owned outside this graph) the gift was sent on, outside a live session. */
  videoId?: string | null;
  /** W3C trace context of the sendGift request (optional, added 2026-12): the credit continues that trace. */
  traceparent?: string;
}
