import { AsyncLocalStorage } from "node:async_hooks";

/** The current request's id, visible to error formatting and logs without threading it through every call. */
export const requestContext = new AsyncLocalStorage<{ requestId: string }>();

export function currentRequestId(): string | undefined {
  return requestContext.getStore()?.requestId;
}
