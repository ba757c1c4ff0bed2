import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * Webhook signatures (payment provider → wallet, and our partner webhooks → partners): header `<Name>-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * Several v1 entries may be present (secret rotation). The timestamp is signed, so a captured
 * request cannot be replayed outside the tolerance window.
 */
export const SIGNATURE_HEADER = "payment-signature";
export const DEFAULT_TOLERANCE_SECONDS = 300;

export function signPayload(secret: string, body: string | Buffer, timestamp: number): string {
  const mac = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex");
  return `t=${timestamp},v1=${mac}`;
}

export type SignatureCheck = { ok: true; timestamp: number } | { ok: false; reason: "missing" | "malformed" | "stale" | "mismatch" };

export function verifySignature(
  secret: string,
  header: string | undefined,
  body: Buffer,
  nowSeconds: number = Math.floor(Date.now() / 1000),
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): SignatureCheck {
  if (!header) return { ok: false, reason: "missing" };
  let timestamp: number | undefined;
  const signatures: Buffer[] = [];
  for (const part of header.split(",")) {
    const [k, v] = part.trim().split("=", 2);
    if (k === "t" && /^\d{1,12}$/.test(v ?? "")) timestamp = Number(v);
    else if (k === "v1" && /^[0-9a-f]{64}$/.test(v ?? "")) signatures.push(Buffer.from(v, "hex"));
  }
  if (timestamp === undefined || signatures.length === 0) return { ok: false, reason: "malformed" };
  // Checked before the HMAC so an old capture is refused even with a valid signature.
  if (Math.abs(nowSeconds - timestamp) > toleranceSeconds) return { ok: false, reason: "stale" };
  const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
  // Constant-time comparison: the response time reveals nothing about how much matched.
  const match = signatures.some((s) => s.length === expected.length && timingSafeEqual(s, expected));
  return match ? { ok: true, timestamp } : { ok: false, reason: "mismatch" };
}
