import pg from "pg";
import { logger } from "./logger.js";

export interface PgListenerOptions {
  databaseUrl: string;
  /** The NOTIFY channel (a plain lower-case identifier). */
  channel: string;
  /** The connection's application_name, so operators (and fault tests) can find it in pg_stat_activity. */
  name: string;
  onNotify(payload: string): void;
  /**
   * Listening (first time or again). Notifications sent while not listening are gone, so this is
   * where a caller drops what it cached or catches up by reading.
   */
  onListening?(): void;
  /** The connection was lost; it is reconnected with backoff. */
  onLost?(): void;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const FIRST_RETRY_MS = 250;
const MAX_RETRY_MS = 5000;

/**
 * One dedicated LISTEN connection that reconnects itself (250 ms, doubling to 5 s). PostgreSQL
 * only delivers notifications to a session that is listening when they are sent, so every user
 * must treat "between onLost and onListening" as "anything may have changed".
 */
export class PgListener {
  private client: pg.Client | null = null;
  private listening = false;
  private stopped = true;
  private retryTimer: NodeJS.Timeout | null = null;
  private retryMs = FIRST_RETRY_MS;

  constructor(private readonly opts: PgListenerOptions) {
    if (!IDENTIFIER.test(opts.channel)) throw new Error(`not a channel name: ${JSON.stringify(opts.channel)}`);
  }

  /** True while notifications are being received. */
  get isListening(): boolean {
    return this.listening;
  }

  /** Connections held (0 or 1), connecting included. */
  get connections(): number {
    return this.client ? 1 : 0;
  }

  /** Connects and listens; if the database cannot be reached yet, keeps retrying in the background. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    const client = this.client;
    this.client = null;
    this.listening = false;
    await client?.end().catch(() => undefined);
  }

  private async connect(): Promise<void> {
    const { databaseUrl, channel, name } = this.opts;
    const client = new pg.Client({ connectionString: databaseUrl, application_name: name, keepAlive: true });
    const lost = (why: string) => {
      if (this.client !== client) return;
      this.client = null;
      this.listening = false;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      logger.warn({ channel, why }, "LISTEN connection lost; reconnecting");
      this.opts.onLost?.();
      this.scheduleRetry();
    };
    client.on("error", (err) => lost(err.message));
    client.on("end", () => lost("connection ended"));
    client.on("notification", (n) => {
      if (n.channel === channel) this.opts.onNotify(n.payload ?? "");
    });
    this.client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${channel}`);
    } catch (e) {
      lost(e instanceof Error ? e.message : String(e));
      return;
    }
    if (this.client !== client) return; // stopped or lost meanwhile
    this.listening = true;
    this.retryMs = FIRST_RETRY_MS;
    this.opts.onListening?.();
  }

  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    const delay = this.retryMs;
    this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (!this.stopped) void this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}
