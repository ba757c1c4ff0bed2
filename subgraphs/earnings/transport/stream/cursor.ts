import { badInput } from "../../../../platform/errors.js";
import { encodeFeedCursor, feedCursorSeq } from "../../../../platform/feed.js";

/**
 * Stream cursors are opaque to clients: base64url("gf1:<seq>") (platform/feed.ts: the gateways'
 * feed bus reads the seq too, to drop copies and find the seam). The version prefix lets the
 * encoding change (e.g. to a broker offset) without breaking stored cursors.
 */
export const encodeCursor = encodeFeedCursor;

/** The seq after which to resume; BAD_USER_INPUT for anything that is not one of our cursors. */
export function decodeCursor(cursor: string, field = "after"): number {
  const seq = feedCursorSeq(cursor);
  if (seq === null) throw badInput("after is not a stream cursor", [field]);
  return seq;
}
