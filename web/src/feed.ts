import type { GoalProgressView } from "./goals.js";

/** A stream event as the app selects it (operations.ts EVENT_FIELDS). */
export interface GiftEventView {
  id: string;
  cursor: string | null;
  /** "Anonymous" for an anonymous gift (sender is null then, for everyone on the room feed). */
  senderName: string;
  quantity: number;
  coins: number;
  comboId: string | null;
  comboCount: number | null;
  comboEnded: boolean | null;
  sentAt: string;
  sender: { id: string } | null;
  gift: { id: string; name: string; imageUrl: string } | null;
  isTest?: boolean;
  message?: string | null;
  anonymous?: boolean;
  /** The sender's gifter level after this gift; null when hidden (anonymous). */
  senderLevel?: number | null;
  /** Only on the gift that crossed a level threshold. */
  senderLevelUp?: { from: number; to: number } | null;
  goalProgress?: GoalProgressView[];
  /** The overlay's stream selects it (to find the host's goals). */
  host?: { id: string } | null;
}

/** One line of a feed: a gift, or a whole combo counting up (×N), or a sender's level-up. */
export interface FeedLine {
  key: string;
  kind: "gift" | "levelUp";
  senderName: string;
  giftName: string;
  imageUrl: string | null;
  count: number;
  ended: boolean;
  isTest: boolean;
  anonymous: boolean;
  message: string | null;
  /** The sender's level badge (gift lines); the new level (level-up lines). */
  level: number | null;
}

const MAX_LINES = 100;

/** Folds an event into the feed: combo gifts update their line's counter; a combo end marks it done; a level-up adds its own line. */
export function foldFeed(lines: FeedLine[], e: GiftEventView): FeedLine[] {
  const folded = foldGift(lines, e);
  if (!e.senderLevelUp || e.quantity === 0) return folded;
  const up: FeedLine = {
    key: `level:${e.id}`,
    kind: "levelUp",
    senderName: e.senderName,
    giftName: "",
    imageUrl: null,
    count: 0,
    ended: true,
    isTest: false,
    anonymous: false,
    message: null,
    level: e.senderLevelUp.to,
  };
  return folded.some((l) => l.key === up.key) ? folded : [up, ...folded].slice(0, MAX_LINES);
}

function foldGift(lines: FeedLine[], e: GiftEventView): FeedLine[] {
  const key = e.comboId ? `combo:${e.sender?.id ?? e.senderName}:${e.comboId}` : e.id;
  const existing = lines.findIndex((l) => l.key === key);
  if (e.quantity === 0 && !e.comboEnded) return lines;
  if (existing >= 0) {
    const l = lines[existing];
    const updated = { ...l, count: e.comboCount ?? l.count + e.quantity, ended: !!e.comboEnded, level: e.senderLevel ?? l.level, message: l.message ?? e.message ?? null };
    return [updated, ...lines.slice(0, existing), ...lines.slice(existing + 1)];
  }
  if (e.comboEnded) return lines; // the end of a combo we never saw start
  const line: FeedLine = {
    key,
    kind: "gift",
    senderName: e.senderName,
    giftName: e.gift?.name ?? "a gift",
    imageUrl: e.gift?.imageUrl ?? null,
    count: e.comboCount ?? e.quantity,
    ended: false,
    isTest: !!e.isTest,
    anonymous: !!e.anonymous,
    message: e.message ?? null,
    level: e.senderLevel ?? null,
  };
  return [line, ...lines].slice(0, MAX_LINES);
}
