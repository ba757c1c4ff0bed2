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
