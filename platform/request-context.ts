/**
 * Which request an error belongs to, so formatError masks it with the id the response's
 * `x-request-id` carries. Errors are tagged:
 *   - by the request log plugin, when Apollo reports them (didEncounterErrors, which always runs
 *     before Apollo formats them);
 *   - by the HTTP pipeline, for an error of the context function.
 * A WeakMap, not an AsyncLocalStorage. On Node 20 an AsyncLocalStorage runs a hook for every promise
 * of every request, and that hook was 15% of the stack's CPU per gift (DECISIONS 132).
 */
const requestIds = new WeakMap<object, string>();

/** Marks each error as one of this request's (a string or other primitive cannot be tagged; it masks with a fresh id). */
export function tagErrors(errors: readonly unknown[] | undefined, requestId: string | undefined): void {
  if (!errors || !requestId) return;
  for (const e of errors) if (typeof e === "object" && e !== null) requestIds.set(e, requestId);
}

/** The request id an error (or an error it wraps: originalError, cause) was tagged with. */
export function requestIdOf(error: unknown): string | undefined {
  for (let e = error, depth = 0; typeof e === "object" && e !== null && depth < 4; depth++) {
    const id = requestIds.get(e);
    if (id) return id;
    e = (e as { originalError?: unknown }).originalError ?? (e as { cause?: unknown }).cause;
  }
  return undefined;
}
