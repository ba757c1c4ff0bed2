/**
 * The one way a test waits: on observable state, polled, up to a bound. The bound is slack for a
 * loaded CI machine, never a speed claim (speed targets live in bench/). A test never sleeps to
 * let something happen; it waits until it has happened (docs/CONVENTIONS.md, "Tests").
 *
 * - `eventually(check)`: retries `check` until it stops throwing (so an `expect` inside reads as
 *   the condition), then returns what it returned; after `ms` the last failure is the test's.
 * - `until(cond, what)`: the same for a boolean condition, failing with "timed out waiting for <what>".
 * - `pollUntil(read, accept)`: reads until `accept` holds and returns that value, or the last value
 *   read when `ms` runs out, so the caller's own `expect` says what differed.
 */
export async function eventually<T>(check: () => T | Promise<T>, ms = 10_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await new Promise((r) => setTimeout(r, everyMs));
    }
  }
}

/** Waits until `cond` holds; `what` (or what it returns, asked at the deadline) names it in the failure. */
export async function until(cond: () => boolean | Promise<boolean>, what: string | (() => string), ms = 15_000, everyMs = 10): Promise<void> {
  const held = await pollUntil(cond, (ok) => ok, ms, everyMs);
  if (!held) throw new Error(`timed out waiting for ${typeof what === "string" ? what : what()}`);
}

/** Thrown (once made) while a value is not yet accepted; never escapes pollUntil. */
const NOT_YET = new Error("not yet");

/** Reads until `accept(value)` holds and returns that value; when `ms` runs out, returns the last value read. */
export async function pollUntil<T>(read: () => T | Promise<T>, accept: (v: T) => boolean, ms: number, everyMs = 25): Promise<T> {
  let last: { value: T } | undefined;
  try {
    return await eventually(
      async () => {
        last = { value: await read() };
        if (!accept(last.value)) throw NOT_YET;
        return last.value;
      },
      ms,
      everyMs,
    );
  } catch (e) {
    if (e === NOT_YET && last) return last.value;
    throw e;
  }
}
