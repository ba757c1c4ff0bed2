import type { ExecutionResult, GraphQLError } from "graphql";
import { Channel } from "../../platform/channel.js";
import type { StreamBounds, SubscriptionContext } from "./connection.js";
import type { PlannedSubscription, SubscriptionExecutor } from "./executor.js";
import { STREAM_CURSOR, type CursoredResult } from "./rooms.js";
import { CURSOR_ALIAS } from "./shareable.js";
import { slowConsumer, upstreamError } from "./stream-errors.js";
import type { Throttled, Upstream } from "./upstream.js";

/** Pulls `cursor` from the root field of a delivered result (or an upstream event), when selected. */
export function cursorOf(result: ExecutionResult): string | null {
  const data = result.data as Record<string, unknown> | null | undefined;
  if (!data) return null;
  for (const v of Object.values(data)) {
    if (!v || typeof v !== "object") continue;
    const r = v as Record<string, unknown>;
    if (typeof r[CURSOR_ALIAS] === "string") return r[CURSOR_ALIAS] as string;
    if (typeof r.cursor === "string") return r.cursor;
  }
  return null;
}

/** The gateway side of one active subscription: its bounds and counters, and where it says it ended. */
export interface SubscriptionHost extends StreamBounds {
  forget(sub: ActiveSubscription): void;
}

/**
 * One downstream subscription on its own upstream (a private stream, or a room member's catch-up):
 * each upstream event runs the rest of the plan, results reach the client in event order through a
 * bounded channel, and a client too far behind is ended with SLOW_CONSUMER and its last cursor.
 */
export class ActiveSubscription implements Throttled {
  private chain: Promise<void> = Promise.resolve();
  private inflight = 0;
  private lastCursor: string | null = null;
  readonly channel: Channel<ExecutionResult>;
  private unsubscribe: (() => void) | null = null;
  private released = false;

  constructor(
    private readonly gw: SubscriptionHost,
    private readonly executor: SubscriptionExecutor,
    private readonly plan: PlannedSubscription,
    private readonly variables: Record<string, unknown> | undefined,
    private readonly ctx: SubscriptionContext,
    /** The upstream operation when it is not the plan's primary fetch (a room member's catch-up asks for the cursor too). */
    private readonly upstreamQuery: string = plan.primary.operation,
  ) {
    this.channel = new Channel<ExecutionResult>(
      gw.hardCap,
      () => this.slow(`more than ${gw.hardCap} results waiting for this client`),
      () => this.release(),
    );
  }

  private slow(why: string): GraphQLError {
    this.gw.stats.slowClosed++;
    return slowConsumer(why, this.lastCursor);
  }

  backlog(): number {
    return this.inflight + this.channel.size;
  }

  unsent(): number {
    return this.channel.size;
  }

  get closed(): boolean {
    return this.channel.isClosed;
  }

  start(upstream: Upstream): void {
    this.gw.stats.upstreamSubscriptions++;
    this.unsubscribe = upstream.client.subscribe<Record<string, unknown>>(
      { query: this.upstreamQuery, variables: this.executor.primaryVariables(this.plan, this.variables), operationName: this.plan.primary.operationName },
      {
        next: (event) => this.onEvent(upstream, event as ExecutionResult),
        error: (err) => {
          void this.chain.then(() => this.channel.fail(upstreamError(err)));
        },
        complete: () => {
          void this.chain.then(() => this.channel.end());
        },
      },
    );
  }

  private onEvent(upstream: Upstream, event: ExecutionResult): void {
    if (this.channel.isClosed) return;
    // Results are produced in event order; bound what waits for the rest of the plan too (see hardCap).
    if (++this.inflight > this.gw.hardCap) {
      this.channel.fail(this.slow(`more than ${this.gw.hardCap} events waiting to be resolved`));
      return;
    }
    upstream.throttle(this);
    // Start the rest of the plan now (entity fetches of consecutive events overlap instead of
    // queueing one HTTP round trip each); the chain only keeps delivery in event order.
    const executing = this.executor.execute(this.plan, event, this.variables, this.ctx);
    this.chain = this.chain.then(async () => this.deliver(event, await executing));
  }

  private deliver(event: ExecutionResult, executed: ExecutionResult): void {
    let result = executed;
    this.inflight--;
    // A subgraph down can null the whole event (non-null fields): still tell the client
    // where in the stream it is, so it can resume after it.
    const upstreamCursor = cursorOf(event);
    if (upstreamCursor && cursorOf(result) === null) result = { ...result, extensions: { ...(result.extensions ?? {}), cursor: upstreamCursor } };
    (result as CursoredResult)[STREAM_CURSOR] = upstreamCursor;
    if (this.channel.push(result)) this.lastCursor = upstreamCursor ?? cursorOf(result) ?? this.lastCursor;
  }

  end(error: GraphQLError): void {
    this.channel.fail(error);
  }

  tooSlow(): void {
    this.channel.fail(this.slow(`${Math.floor(this.gw.pauseAt / 2)}+ events left unread for more than ${this.gw.slowMs} ms`));
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    // The client left (or the stream ended): end the upstream subscription at once.
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.gw.stats.upstreamSubscriptions--;
    this.gw.forget(this);
  }
}
