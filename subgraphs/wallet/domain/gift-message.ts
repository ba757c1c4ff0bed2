import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { DomainError, ErrorCode, badInput } from "../../../platform/errors.js";

/**
 * A gift's message (YouTube Super Chat's comment, a Twitch cheer's message): what a viewer pays to
 * have seen on the streams. Rules (docs/engagement.md):
 * - At most MAX_MESSAGE_CHARS characters (code points, after NFC and trimming) — a longer or
 *   control-character value is malformed input (BAD_USER_INPUT).
 * - How long a message a send buys depends on its coins (MESSAGE_TIERS); over the tier is an
 *   INVALID_INPUT userError that names the tier. Nothing is charged.
 * - A message containing a word of the moderation list (moderation-words.txt, normalized matching)
 *   is refused with MESSAGE_REJECTED; nothing is charged and the word is not echoed back.
 */
export const MAX_MESSAGE_CHARS = 150;

/** [minimum coins of the send, characters it buys], ascending. Below the first tier: no message. */
export const MESSAGE_TIERS: readonly (readonly [number, number])[] = [
  [1, 20],
  [10, 50],
  [100, 100],
  [1000, MAX_MESSAGE_CHARS],
];

export function messageCharsFor(coins: number): number {
  let chars = 0;
  for (const [min, n] of MESSAGE_TIERS) if (coins >= min) chars = n;
  return chars;
}

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Format check (in parseSendGiftInput): null/empty → no message. */
export function parseMessage(value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  const text = value.normalize("NFC").trim();
  if (text.length === 0) return null;
  if ([...text].length > MAX_MESSAGE_CHARS || CONTROL.test(text)) {
    throw badInput(`message must be at most ${MAX_MESSAGE_CHARS} characters without control characters`, ["input", "message"]);
  }
  return text;
}

const LEET: Record<string, string> = { "0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", $: "s" };

/** Case-fold, strip diacritics, undo simple leetspeak, collapse repeated letters. */
export function normalizeForModeration(text: string): string {
  const folded = text
    .normalize("NFKD")
    .replace(/\p{M}+/gu, "")
    .toLowerCase();
  let out = "";
  for (const ch of folded) out += LEET[ch] ?? ch;
  return out.replace(/(\p{L})\1+/gu, "$1");
}

/** The message's words, plus runs of single letters joined ("b.a.d w.o.r.d" → "badword" too). */
function candidates(text: string): string[] {
  const words = normalizeForModeration(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
  const out = [...words];
  let run = "";
  for (const w of [...words, ""]) {
    if ([...w].length === 1) run += w;
    else {
      if ([...run].length > 1) out.push(run.replace(/(\p{L})\1+/gu, "$1"));
      run = "";
    }
  }
  // Adjacent words joined ("free coins" → "freecoins").
  for (let i = 0; i + 1 < words.length; i++) out.push((words[i] + words[i + 1]).replace(/(\p{L})\1+/gu, "$1"));
  return out;
}

export class MessageModeration {
  private readonly words: Set<string>;

  constructor(words: readonly string[]) {
    this.words = new Set(words.map((w) => normalizeForModeration(w.trim())).filter((w) => w.length > 0));
  }

  /** The word list shipped in the repo (next to this module, or its source when running from dist/). */
  static fromRepoList(): MessageModeration {
    const here = new URL("./moderation-words.txt", import.meta.url);
    const source = new URL("../../../../subgraphs/wallet/domain/moderation-words.txt", import.meta.url);
    const path = [here, source].map((u) => fileURLToPath(u)).find((p) => existsSync(p));
    // Fail closed: a wallet that cannot moderate must not start taking messages.
    if (!path) throw new Error("moderation-words.txt not found next to gift-message.js or in subgraphs/wallet/domain/");
    const lines = readFileSync(path, "utf8").split("\n").map((l) => l.replace(/#.*/, "").trim());
    return new MessageModeration(lines.filter(Boolean));
  }

  /** True when the message contains a listed word. */
  rejects(message: string): boolean {
    return candidates(message).some((c) => this.words.has(c));
  }

  /** The business rules, once the send's coins are known. Throws DomainError; nothing is charged. */
  check(message: string | null, coins: number): void {
    if (message === null) return;
    const allowed = messageCharsFor(coins);
    const length = [...message].length;
    if (length > allowed) {
      throw new DomainError(
        ErrorCode.INVALID_INPUT,
        allowed === 0 ? "this send is too small to carry a message" : `a ${coins}-coin send carries a message of at most ${allowed} characters (${length} given)`,
        { field: ["input", "message"] },
      );
    }
    if (this.rejects(message)) throw new DomainError(ErrorCode.MESSAGE_REJECTED, "this message breaks the community guidelines; edit it and send again", { field: ["input", "message"] });
  }
}
