import { pino } from "pino";
import { loadLogLevel } from "./config.js";

// pino: structured JSON logs, cheap on the hot path. Redaction is the last line of
// defence: tokens, secrets and payment tokens must never reach a log line.
// Asynchronous, buffered stdout (sonic-boom): lines are written in chunks of at least 4 KiB, or
// every 250 ms, whichever comes first, and flushed synchronously at exit (pino registers that).
// Synchronous writes were ~7% of the gateway's CPU in the bench profile (one write(2) per request
// log line); unbuffered asynchronous ones still ~5% (one thread-pool write per line, 2026-12-02).
// A SIGKILL can lose the last 250 ms of lines.
export const LOGGER_OPTIONS: pino.LoggerOptions = {
  level: loadLogLevel(),
  redact: {
    paths: [
      "authorization",
      "*.authorization",
      "headers.authorization",
      "*.headers.authorization",
      "token",
      "*.token",
      "paymentMethod.token",
      "*.paymentMethod.token",
      "secret",
      "*.secret",
      "apiKey",
      "*.apiKey",
      // Partner API keys (gateway/partner), as a header or a connection_init param.
      '["x-api-key"]',
      '*["x-api-key"]',
      'headers["x-api-key"]',
      '*.headers["x-api-key"]',
      // Service credentials (platform/service-auth.ts), as a header or a connection_init param.
      '["x-service-authorization"]',
      '*["x-service-authorization"]',
      'headers["x-service-authorization"]',
      '*.headers["x-service-authorization"]',
      "serviceAuthorization",
      "*.serviceAuthorization",
    ],
    censor: "[redacted]",
  },
};

const destination = pino.destination({ dest: 1, sync: false, minLength: 4096 });
setInterval(() => {
  if (!(destination as unknown as { destroyed?: boolean }).destroyed) destination.flush();
}, 250).unref();

export const logger = pino(LOGGER_OPTIONS, destination);

/**
 * The per-request log line (platform/request-log.ts) has a fixed shape (service, request id,
 * operation name and type, user id, duration, error codes): none of its keys is on the redaction
 * list, and redaction matches keys, never values, so it could never redact anything in it. It skips
 * the redaction pass (~1.5% of the gateway's busy CPU under sendGift, 2026-12-02). Anything else
 * logs through `logger`.
 */
export const requestLogger = pino({ ...LOGGER_OPTIONS, redact: undefined }, destination);
