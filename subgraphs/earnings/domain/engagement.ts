/**
 * What a stream event carries beyond the gift itself (docs/engagement.md): stored as one jsonb
 * value on the gift_feed row (`engagement`), written in the crediting transaction, so every
 * stream (host stream, room feed, partner webhooks) shows the same thing for the same cursor.
 */
export interface GoalProgressSnapshot {
  goalId: string;
  title: string;
  /** Coins, or a count of the goal's gift. */
  progress: number;
  target: number;
  /** True on the one event whose gift crossed the target (exactly once per goal). */
  reached: boolean;
}

export interface FeedEngagement {
  /** Goals this gift advanced, with their progress right after it. */
  goals?: GoalProgressSnapshot[];
  /** The sender's gifter level after this gift. */
  senderLevel?: number;
  /** Set on the one event whose gift moved the sender past a level threshold. */
  levelUp?: { from: number; to: number } | null;
  message?: string | null;
  anonymous?: boolean;
  videoId?: string | null;
}

/** Merges per-gift engagement parts into the feed value (null when there is nothing to say). */
export function engagementOf(...parts: (Partial<FeedEngagement> | undefined | null)[]): FeedEngagement | null {
  const out: FeedEngagement = {};
  for (const p of parts) if (p) Object.assign(out, p);
  for (const k of Object.keys(out) as (keyof FeedEngagement)[]) if (out[k] === undefined || out[k] === null) delete out[k];
  if (out.goals && out.goals.length === 0) delete out.goals;
  return Object.keys(out).length ? out : null;
}

/** What a combo end keeps of its last gift: only the anonymity (the end must not reveal the sender either). */
export function comboEndEngagement(last: FeedEngagement | null | undefined): FeedEngagement | null {
  return last?.anonymous ? { anonymous: true } : null;
}

/** The parts of a credited gift that come from its sender's choices (message, anonymity, video). */
export function giftEngagement(c: { message: string | null; anonymous: boolean; videoId: string | null }): Partial<FeedEngagement> {
  return { message: c.message, anonymous: c.anonymous || undefined, videoId: c.videoId };
}

/**
 * Leaderboards count an anonymous gift under a separate, unnamed entry of its sender: the real id
 * behind a marker no identity-provider subject contains (a control character), so boards rank it
 * but never name it, and no API returns the id (domain/leaderboards.ts strips it).
 */
export const ANONYMOUS_ENTRY = "\u001fanon:";
export const boardSender = (c: { senderId: string; anonymous: boolean }) => (c.anonymous ? `${ANONYMOUS_ENTRY}${c.senderId}` : c.senderId);

/** Optional gift.sent fields (absent on older events): why one is unusable, or null. */
export function invalidEngagement(p: { message?: unknown; anonymous?: unknown; videoId?: unknown }): string | null {
  if (p.message != null && (typeof p.message !== "string" || p.message.length === 0 || [...p.message].length > 150)) return "message must be 1-150 characters or null";
  if (p.anonymous != null && typeof p.anonymous !== "boolean") return "anonymous must be a boolean";
  if (p.videoId != null && (typeof p.videoId !== "string" || p.videoId.length === 0 || p.videoId.length > 128)) return "videoId must be 1-128 characters or null";
  return null;
}
