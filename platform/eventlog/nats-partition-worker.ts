import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { logger } from "../logger.js";
import { Linger } from "../eventlog.js";
import { errText } from "./nats-wire.js";

/** What a worker hands its batches to (JetStreamEventConsumer.apply). */
export interface PartitionApplier {
  apply(partition: number, msgs: JsMsg[]): Promise<number>;
}

/** Pulls one partition's durable consumer and applies what arrived, one batch at a time. */
export class PartitionWorker {
  private buffer: JsMsg[] = [];
  private messages: ConsumerMessages | null = null;
  private wake: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private stopped = false;
  alive = true;
  /** When a message last arrived (or the worker started): the stall check looks only at quiet workers. */
  lastSeenAt = Date.now();
  /** When the stall check last looked at this worker. */
  checkedAt = 0;

  constructor(
    private readonly owner: PartitionApplier,
    private readonly partition: number,
    private readonly batchSize: number,
    /** ConsumerOptions.lingerMs: after a batch that was not full, let more arrive before the next. */
    private readonly lingerMs = 0,
  ) {}
  private readonly linger = new Linger();

  async start(js: JetStreamClient, stream: string, durable: string): Promise<void> {
    const c = await js.consumers.get(stream, durable);
    this.messages = await c.consume({
      max_messages: this.batchSize,
      callback: (m) => {
        this.lastSeenAt = Date.now();
        this.buffer.push(m);
        this.wake?.();
      },
    });
    void this.messages.closed().then(() => {
      this.alive = false;
    });
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      if (this.buffer.length === 0) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
        this.wake = null;
        continue;
      }
      const batch = this.buffer.splice(0, this.batchSize);
      try {
        await this.owner.apply(this.partition, batch);
        // (stopped checked here too: a stop() that came while the batch ran had no linger to cancel)
        if (!this.stopped && batch.length < this.batchSize && this.buffer.length < this.batchSize) await this.linger.wait(this.lingerMs);
      } catch (err) {
        if (!this.stopped) logger.error({ err: errText(err), partition: this.partition }, "JetStream batch failed; redelivered shortly");
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.alive = false;
    await this.messages?.close().catch(() => undefined);
    this.wake?.();
    this.linger.cancel();
    await this.loop;
    // Not applied here: handed back at once for the partition's next owner.
    for (const m of this.buffer.splice(0)) m.nak();
  }
}
