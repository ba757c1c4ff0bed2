import { describe, expect, it } from "vitest";
import { loadConfig, loadDatabasePool, loadLogLevel, loadMaxBodyBytes, loadProcessSettings, loadStreamMaxQueue } from "../../platform/config.js";
import { subgraphMaxSocketsFromEnv, subgraphUrlsFromEnv, subscriptionStreamConfigFromEnv } from "../../gateway/config.js";
import { loadComboIdleMs, loadConsumerLingerMs } from "../../subgraphs/earnings/config.js";

describe("configuration read once, in the config modules", () => {
  it("defines subgraph URLs once: the gateway treats an empty WALLET_URL as unset, like the owner-read clients", () => {
    const env = { WALLET_URL: "", CATALOG_URL: "http://catalog:4002/graphql", EARNINGS_PORT: "5003" };
    expect(subgraphUrlsFromEnv(env)).toEqual(loadConfig(env).subgraphUrls);
    expect(subgraphUrlsFromEnv(env)).toEqual({ wallet: "http://127.0.0.1:4001/graphql", catalog: "http://catalog:4002/graphql", earnings: "http://127.0.0.1:5003/graphql" });
  });

  it("keeps the defaults the code had before the settings moved", () => {
    expect(loadProcessSettings({})).toEqual({ databaseUrl: undefined, migrate: true, host: "127.0.0.1" });
    expect(loadProcessSettings({ DATABASE_URL: "postgres://x", MIGRATE: "false", HOST: "0.0.0.0" })).toEqual({ databaseUrl: "postgres://x", migrate: false, host: "0.0.0.0" });
    expect([loadMaxBodyBytes({}), loadStreamMaxQueue({}), loadComboIdleMs({}), subgraphMaxSocketsFromEnv({})]).toEqual([256 * 1024, 1000, 5000, 128]);
    expect(loadDatabasePool({})).toEqual({ poolSize: 10, connectTimeoutMs: 5000 });
    expect(subscriptionStreamConfigFromEnv({ STREAM_MAX_QUEUE: "7" })).toEqual({ maxQueue: 7, slowMs: 10_000 });
    expect([loadLogLevel({}), loadLogLevel({ VITEST: "true" }), loadLogLevel({ NODE_ENV: "test" }), loadLogLevel({ LOG_LEVEL: "debug", VITEST: "true" })]).toEqual(["info", "silent", "silent", "debug"]);
  });

  it("refuses a malformed number at start instead of running with NaN", () => {
    expect(() => loadStreamMaxQueue({ STREAM_MAX_QUEUE: "lots" })).toThrow(/STREAM_MAX_QUEUE/);
    expect(() => loadDatabasePool({ DB_POOL_SIZE: "0" })).toThrow(/DB_POOL_SIZE/);
    expect(() => loadMaxBodyBytes({ MAX_BODY_BYTES: "1.5" })).toThrow(/MAX_BODY_BYTES/);
    expect(() => subgraphMaxSocketsFromEnv({ SUBGRAPH_MAX_SOCKETS: "0" })).toThrow(/SUBGRAPH_MAX_SOCKETS/);
  });

  it("lingers the gift consumer 20 ms after a short batch by default; 0 turns it off, and more than a second or a fraction is refused", () => {
    expect([loadConsumerLingerMs({}), loadConsumerLingerMs({ EARNINGS_CONSUMER_LINGER_MS: "0" }), loadConsumerLingerMs({ EARNINGS_CONSUMER_LINGER_MS: "25" })]).toEqual([20, 0, 25]);
    for (const bad of ["-1", "1001", "2.5", "soon"]) expect(() => loadConsumerLingerMs({ EARNINGS_CONSUMER_LINGER_MS: bad })).toThrow(/EARNINGS_CONSUMER_LINGER_MS/);
  });
});
