import { Writable } from "node:stream";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { LOGGER_OPTIONS } from "../../platform/logger.js";

function capture(): { log: pino.Logger; text: () => string } {
  const chunks: string[] = [];
  const sink = new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) });
  return { log: pino({ ...LOGGER_OPTIONS, level: "info" }, sink), text: () => chunks.join("") };
}

describe("log redaction (the services' logger configuration)", () => {
  it("never writes bearer tokens, payment tokens, secrets or partner API keys", () => {
    const { log, text } = capture();
    log.info({ authorization: "Bearer eyJhbGciOiJIUzI1NiJ9.secret-jwt", headers: { authorization: "Bearer eyJ.header-jwt", "x-api-key": "pk_live_abc123" } }, "request");
    log.info({ input: { paymentMethod: { type: "CARD", token: "pm_card_4242424242424242" } } }, "recharge");
    log.info({ token: "raw-token-value", webhook: { secret: "whsec_live_123" }, partner: { apiKey: "pk_live_def456" } }, "misc");
    const out = text();
    for (const leaked of ["secret-jwt", "header-jwt", "pk_live_abc123", "pm_card_4242", "raw-token-value", "whsec_live_123", "pk_live_def456"]) {
      expect(out).not.toContain(leaked);
    }
    expect(out.match(/\[redacted\]/g)?.length).toBeGreaterThanOrEqual(7);
    expect(out).toContain('"type":"CARD"'); // the rest of the line is kept
  });
});
