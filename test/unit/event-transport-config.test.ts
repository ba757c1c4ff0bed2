import { describe, expect, it } from "vitest";
import { loadEventTransport } from "../../platform/config.js";
import { openEventLog } from "../../platform/eventlog/index.js";

describe("event transport settings", () => {
  it("without NATS_URL the event log is the PostgreSQL outbox, exactly as before", () => {
    const config = loadEventTransport({});
    expect(config).toEqual({ natsUrl: undefined, stream: "EVENTS", duplicateWindowMs: 7_200_000, maxAgeMs: 7 * 24 * 3_600_000, ackWaitMs: 30_000, subjectPrefix: "events", feedSubjectPrefix: "feed" });
    expect(openEventLog(config).transport).toBe("postgres");
  });

  it("NATS_URL selects JetStream, with the stream, window, retention, ack wait and subject prefixes from the environment", () => {
    const config = loadEventTransport({ NATS_URL: "nats://nats:4222", NATS_STREAM: "GIFTS", NATS_DUPLICATE_WINDOW_SECONDS: "600", NATS_STREAM_MAX_AGE_HOURS: "24", NATS_ACK_WAIT_MS: "5000", NATS_SUBJECT_PREFIX: "prod.events", NATS_FEED_SUBJECT_PREFIX: "prod.feed" });
    expect(config).toEqual({ natsUrl: "nats://nats:4222", stream: "GIFTS", duplicateWindowMs: 600_000, maxAgeMs: 86_400_000, ackWaitMs: 5_000, subjectPrefix: "prod.events", feedSubjectPrefix: "prod.feed" });
    expect(openEventLog(config).transport).toBe("nats");
  });

  it("refuses a malformed NATS_URL, stream name, window, retention, ack wait or subject prefix at start-up", () => {
    expect(() => loadEventTransport({ NATS_URL: "http://nats:4222" })).toThrow(/NATS_URL/);
    expect(() => loadEventTransport({ NATS_STREAM: "events.gift" })).toThrow(/NATS_STREAM/);
    expect(() => loadEventTransport({ NATS_DUPLICATE_WINDOW_SECONDS: "0" })).toThrow(/NATS_DUPLICATE_WINDOW_SECONDS/);
    expect(() => loadEventTransport({ NATS_STREAM_MAX_AGE_HOURS: "1.5" })).toThrow(/NATS_STREAM_MAX_AGE_HOURS/);
    expect(() => loadEventTransport({ NATS_ACK_WAIT_MS: "10" })).toThrow(/NATS_ACK_WAIT_MS/);
    expect(() => loadEventTransport({ NATS_SUBJECT_PREFIX: "events.>" })).toThrow(/NATS_SUBJECT_PREFIX/);
    expect(() => loadEventTransport({ NATS_FEED_SUBJECT_PREFIX: "feed room" })).toThrow(/NATS_FEED_SUBJECT_PREFIX/);
  });
});
