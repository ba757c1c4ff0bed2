import { badInput } from "../../../platform/errors.js";

/**
 * Stream cursors are opaque to clients: base64url("gf1:<seq>"). The version prefix lets
 * the encoding change (e.g. to a broker offset) without breaking stored cursors.
 */
const PREFIX = "gf1:";

export function encodeCursor(seq: number): string {
  return Buffer.from(`${PREFIX}${seq}`, "utf8").toString("base64url");
}

/** The seq after which to resume; BAD_USER_INPUT for anything that is not one of our cursors. */
export function decodeCursor(cursor: string, field = "after"): number {
  if (cursor.length > 64) throw badInput("after is not a stream cursor", [field]);
  const text = Buffer.from(cursor, "base64url").toString("utf8");
  const m = /^gf1:(\d{1,15})$/.exec(text);
  if (!m) throw badInput("after is not a stream cursor", [field]);
  return Number(m[1]);
}
