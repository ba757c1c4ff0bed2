/**
 * A gift's message, as the wallet checks it (docs/engagement.md §2): at most 150 characters (code
 * points, after NFC and trimming), and how long a message a send buys depends on its coins.
 * The app shows and enforces the same tiers so a viewer is never charged-then-refused (the wallet
 * refuses before charging anyway).
 */
export const MAX_MESSAGE_CHARS = 150;

/** [minimum coins of the send, characters it buys], ascending. */
export const MESSAGE_TIERS: readonly (readonly [number, number])[] = [
  [1, 20],
  [10, 50],
  [100, 100],
  [1000, MAX_MESSAGE_CHARS],
];

export function messageLength(text: string): number {
  return [...text.normalize("NFC").trim()].length;
}

/** Characters a send of `coins` buys (0 below the first tier). */
export function messageCharsFor(coins: number): number {
  let chars = 0;
  for (const [min, n] of MESSAGE_TIERS) if (coins >= min) chars = n;
  return chars;
}

/** The fewest coins a send needs to carry a message this long; null when it is too long for any. */
export function coinsForMessage(length: number): number | null {
  if (length === 0) return 0;
  for (const [min, n] of MESSAGE_TIERS) if (length <= n) return min;
  return null;
}
