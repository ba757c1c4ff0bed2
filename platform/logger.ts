import { pino } from "pino";
import { loadLogLevel } from "./config.js";

// pino: structured JSON logs, cheap on the hot path. Redaction is the last line of
// defence: tokens, secrets and payment tokens must never reach a log line.
// Asynchronous stdout (sonic-boom, flushed on exit): lines written while a write is in flight
// are coalesced into one syscall. Synchronous writes were ~7% of the gateway's CPU in the
// bench profile (one write(2) per request log line).
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

export const logger = pino(LOGGER_OPTIONS, pino.destination({ dest: 1, sync: false }));
