import type { ApolloServerPlugin } from "@apollo/server";
import { requestLogger } from "./logger.js";
import { tagErrors } from "./request-context.js";

/**
 * One structured line per operation: request id, operation name, user id, duration,
 * error codes. Never the query variables (they can hold payment tokens) or headers.
 */
export function requestLogPlugin(service: string): ApolloServerPlugin<any> {
  return {
    async requestDidStart({ contextValue }) {
      const started = process.hrtime.bigint();
      return {
        // Before Apollo formats them: formatError masks each with this request's id (request-context.ts).
        async didEncounterErrors({ errors, contextValue: ctx }) {
          tagErrors(errors, ((ctx ?? contextValue) as { requestId?: string } | undefined)?.requestId);
        },
        async willSendResponse({ request, errors, operation, contextValue: ctx }) {
          const c = (ctx ?? contextValue) as { requestId?: string; user?: { id: string } | null };
          const durationMs = Number(process.hrtime.bigint() - started) / 1e6;
          const codes = errors?.map((e) => e.extensions?.code).filter(Boolean);
          requestLogger[codes?.length ? "warn" : "info"](
            {
              service,
              requestId: c?.requestId,
              operationName: request.operationName ?? operation?.name?.value ?? null,
              operation: operation?.operation,
              userId: c?.user?.id ?? null,
              durationMs: Math.round(durationMs * 100) / 100,
              ...(codes?.length ? { errorCodes: codes } : {}),
            },
            "graphql request",
          );
        },
      };
    },
  };
}
