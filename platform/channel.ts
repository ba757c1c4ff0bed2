// Shared by the earnings stream and the gateway's subscription executor: one bounded queue, one set of semantics.
/**
 * A bounded async queue that is also the async iterator graphql-ws consumes.
 * - return() ends at once (the client left): no waiting for a next event.
 * - push() beyond `max` fails the stream with `overflow()`, after the items already
 *   accepted, so a slow subscriber's last delivered cursor is exactly where to resume.
 */
export class Channel<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiter: ((r: IteratorResult<T>) => void) | null = null;
  private failWaiter: ((e: unknown) => void) | null = null;
  private error: unknown = null;
  private ended = false;
  private closed = false;

  constructor(
    private readonly max: number,
    private readonly overflow: () => Error,
    private readonly onClose: () => void = () => {},
  ) {}

  get size(): number {
    return this.items.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** False when the value was refused (closed, or the queue overflowed and the stream failed). */
  push(value: T): boolean {
    if (this.closed || this.ended || this.error) return false;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.failWaiter = null;
      w({ value, done: false });
      return true;
    }
    if (this.items.length >= this.max) {
      this.fail(this.overflow());
      return false;
    }
    this.items.push(value);
    return true;
  }

  /** Ends the stream with an error once the accepted items are delivered. */
  fail(error: unknown): void {
    if (this.closed || this.ended || this.error) return;
    this.error = error;
    this.release();
    if (this.failWaiter) {
      const f = this.failWaiter;
      this.waiter = this.failWaiter = null;
      f(error);
    }
  }

  /** Completes the stream once the accepted items are delivered. */
  end(): void {
    if (this.closed || this.ended) return;
    this.ended = true;
    this.release();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.failWaiter = null;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.error) {
      const e = this.error;
      this.close();
      return Promise.reject(e);
    }
    if (this.ended || this.closed) {
      this.close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve, reject) => {
      this.waiter = resolve;
      this.failWaiter = reject;
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(e?: unknown): Promise<IteratorResult<T>> {
    this.close();
    return Promise.reject(e);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.items.length = 0;
    this.release();
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = this.failWaiter = null;
      w({ value: undefined, done: true });
    }
  }

  private released = false;
  /** Unregisters from the producer exactly once, as soon as no more items will be accepted. */
  private release(): void {
    if (this.released) return;
    this.released = true;
    this.onClose();
  }
}
