import "reflect-metadata";
import { ApolloServer } from "@apollo/server";
import { GraphQLError, buildSchema } from "graphql";
import { describe, expect, it } from "vitest";
import {
  authFailure,
  rateLimited,
  rateLimitError,
  REFUSING_CLOSE_CODES,
  slowConsumerError,
  streamError,
  StreamErrorCode,
  subgraphFailure,
  unauthenticated,
  WsCloseCode,
} from "../../platform/codes.js";
import { badInput, DomainError, ErrorCode, InputError, UnavailableError, withUserErrors } from "../../platform/errors.js";
import { formatError } from "../../platform/http.js";

/** The errors a resolver's throw turns into on the wire, and the codes plugins (request log, metrics) saw. */
async function wire(thrown: () => unknown): Promise<{ errors: unknown; seen: unknown[] }> {
  const seen: unknown[] = [];
  const server = new ApolloServer({
    schema: (() => {
      const schema = buildSchema("type Query { field(x: Int): String }");
      schema.getQueryType()!.getFields().field.resolve = async () => {
        throw thrown();
      };
      return schema;
    })(),
    formatError,
    includeStacktraceInErrorResponses: false,
    plugins: [{ requestDidStart: async () => ({ didEncounterErrors: async ({ errors }) => void seen.push(...errors.map((e) => e.extensions?.code)) }) }],
  });
  await server.start();
  try {
    const res = await server.executeOperation({ query: "{ field }" });
    return { errors: res.body.kind === "single" ? res.body.singleResult.errors : null, seen };
  } finally {
    await server.stop();
  }
}

describe("error codes: one module, the same wire", () => {
  it("a domain InputError (badInput) reaches clients exactly as the GraphQLError badInput built before", async () => {
    const legacy = () => new GraphQLError("first must be 1..100", { extensions: { code: "BAD_USER_INPUT", field: ["first"] } });
    const before = await wire(legacy);
    const after = await wire(() => badInput("first must be 1..100", ["first"]));
    expect(after).toEqual(before);
    expect(after.errors).toEqual([{ message: "first must be 1..100", locations: [{ line: 1, column: 3 }], path: ["field"], extensions: { code: "BAD_USER_INPUT", field: ["first"] } }]);
    expect(after.seen).toEqual(["BAD_USER_INPUT"]);
    // Without a field, as before: no `field` key on the wire.
    expect(await wire(() => new InputError("bad"))).toEqual(await wire(() => new GraphQLError("bad", { extensions: { code: "BAD_USER_INPUT", field: undefined } })));
  });

  it("an owner read failure (UnavailableError) is SERVICE_UNAVAILABLE as before, never masked", async () => {
    const cause = new Error("connect ECONNREFUSED 10.0.0.7:4002");
    const message = "catalog is temporarily unavailable; nothing was charged, retry with the same idempotencyKey";
    const before = await wire(() => new GraphQLError(message, { extensions: { code: "SERVICE_UNAVAILABLE" }, originalError: cause }));
    const after = await wire(() => new UnavailableError(message, cause));
    expect(after).toEqual(before);
    expect(JSON.stringify(after.errors)).not.toContain("ECONNREFUSED");
  });

  it("withUserErrors turns DomainError into userErrors and lets InputError through as an error", async () => {
    expect(await withUserErrors(async () => Promise.reject(new DomainError(ErrorCode.NOT_FOUND, "no such order")))).toMatchObject({ userErrors: [{ code: "NOT_FOUND", message: "no such order" }] });
    await expect(withUserErrors(async () => Promise.reject(badInput("orderId is malformed", ["orderId"])))).rejects.toBeInstanceOf(InputError);
    expect(badInput("x")).not.toBeInstanceOf(DomainError);
  });

  it("DomainError.toGraphQLError carries the business code and field", () => {
    const e = new DomainError(ErrorCode.INVALID_INPUT, "url must be https", { field: ["input", "url"] }).toGraphQLError();
    expect(e.toJSON()).toEqual(new GraphQLError("url must be https", { extensions: { code: "INVALID_INPUT", field: ["input", "url"] } }).toJSON());
  });

  it("the factories build the errors the old builders did (codes, messages, extensions, HTTP refusals)", () => {
    expect(authFailure("invalid API key").extensions).toEqual({ code: "UNAUTHENTICATED", http: { status: 401 } });
    expect(unauthenticated().toJSON()).toEqual({ message: "authentication required", extensions: { code: "UNAUTHENTICATED" } });
    const limited = rateLimitError("sendGift", 3);
    expect(limited.message).toBe("too many sendGift requests; retry in 3s");
    expect(limited.extensions).toEqual({ code: "RATE_LIMITED", retryAfterSeconds: 3, http: { status: 429, headers: new Map([["retry-after", "3"]]) } });
    expect(rateLimited("slow down", 2, { http: false }).extensions).toEqual({ code: "RATE_LIMITED", retryAfterSeconds: 2 });
    expect(slowConsumerError("too slow", null).extensions).toEqual({ code: "SLOW_CONSUMER", cursor: null });
    expect(streamError(StreamErrorCode.StreamUnavailable, "x").extensions).toEqual({ code: "STREAM_UNAVAILABLE" });
    expect(subgraphFailure("catalog", true, 50).toJSON()).toEqual({ message: "catalog did not answer within 50 ms", extensions: { code: "SUBGRAPH_TIMEOUT", serviceName: "catalog" } });
    expect(subgraphFailure("catalog", false, 50).toJSON()).toEqual({ message: "catalog is unavailable", extensions: { code: "SUBGRAPH_UNAVAILABLE", serviceName: "catalog" } });
  });

  it("pins the wire values of stream and close codes", () => {
    expect({ ...StreamErrorCode }).toEqual({
      SchemaReloaded: "SCHEMA_RELOADED",
      SlowConsumer: "SLOW_CONSUMER",
      StreamInterrupted: "STREAM_INTERRUPTED",
      ShuttingDown: "SHUTTING_DOWN",
      StreamUnavailable: "STREAM_UNAVAILABLE",
    });
    expect([WsCloseCode.GoingAway, WsCloseCode.PolicyViolation, WsCloseCode.MessageTooBig, WsCloseCode.Unauthenticated, WsCloseCode.Forbidden, WsCloseCode.ConnectionInitTimeout, WsCloseCode.RateLimited]).toEqual([
      1001, 1008, 1009, 4401, 4403, 4408, 4429,
    ]);
    expect([...REFUSING_CLOSE_CODES].sort()).toEqual([1002, 1003, 1007, 1008, 1009, 4400, 4403, 4406, 4409, 4429, 4500]);
  });
});
