/** A stream event as the app selects it (operations.ts EVENT_FIELDS). */
export interface GiftEventView {
  id: string;
  cursor: string | null;
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
}

/** One line of a feed: a gift, or a whole combo counting up (×N). */
export interface FeedLine {
  key: string;
  senderName: string;
  giftName: string;
  imageUrl: string | null;
  count: number;
  ended: boolean;
  isTest: boolean;
}

const MAX_LINES = 100;

/** Folds an event into the feed: combo gifts update their line's counter; a combo end marks it done. */
export function foldFeed(lines: FeedLine[], e: GiftEventView): FeedLine[] {
  const key = e.comboId ? `combo:${e.sender?.id ?? e.senderName}:${e.comboId}` : e.id;
  const existing = lines.findIndex((l) => l.key === key);
  if (e.quantity === 0 && !e.comboEnded) return lines;
  if (existing >= 0) {
    const l = lines[existing];
    const updated = { ...l, count: e.comboCount ?? l.count + e.quantity, ended: !!e.comboEnded };
    return [updated, ...lines.slice(0, existing), ...lines.slice(existing + 1)];
  }
  if (e.comboEnded) return lines; // the end of a combo we never saw start
  const line: FeedLine = {
    key,
    senderName: e.senderName,
    giftName: e.gift?.name ?? "a gift",
    imageUrl: e.gift?.imageUrl ?? null,
    count: e.comboCount ?? e.quantity,
    ended: false,
    isTest: !!e.isTest,
  };
  return [line, ...lines].slice(0, MAX_LINES);
}
