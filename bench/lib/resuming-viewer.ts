import WebSocket from "ws";

/**
 * A room viewer that does what the web app does when its stream drops: reconnect (here to the
 * next gateway) with the last cursor it saw, so it should see every event exactly once. Counts
 * what it saw per event id (the scale test checks 1 each) and when it first saw it.
 */
const QUERY = `subscription Room($room: ID!, $after: String) { liveGiftFeed(liveSessionId: $room, after: $after) { id cursor } }`;
const RECONNECT_DELAY_MS = 250;
const MAX_ERRORS = 5;

export class ResumingViewer {
  readonly seen = new Map<string, number>();
  readonly firstAt = new Map<string, number>();
  readonly errors: string[] = [];
  reconnects = 0;
  private cursor: string | null = null;
  private ws: WebSocket | null = null;
  private stopped = false;
  private attempt = 0;

  constructor(
    private readonly gateways: () => string[],
    private readonly index: number,
    private readonly token: string,
    readonly room: string,
  ) {}

  /** Resolves once the first subscription is acknowledged (connection_ack) or the first attempt failed. */
  start(): Promise<void> {
    return new Promise((resolve) => this.connect(resolve));
  }

  private connect(onReady: () => void = () => undefined): void {
    const urls = this.gateways();
    const ws = new WebSocket(urls[(this.index + this.attempt++) % urls.length], "graphql-transport-ws", { perMessageDeflate: false });
    this.ws = ws;
    ws.on("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${this.token}` } })));
    ws.on("message", (raw: Buffer) => {
      const m = JSON.parse(raw.toString("utf8")) as { type: string; payload?: any };
      if (m.type === "connection_ack") {
        ws.send(JSON.stringify({ id: "1", type: "subscribe", payload: { query: QUERY, variables: { room: this.room, after: this.cursor } } }));
        onReady();
      } else if (m.type === "ping") ws.send('{"type":"pong"}');
      else if (m.type === "next") {
        const ev = m.payload?.data?.liveGiftFeed as { id: string; cursor: string } | undefined;
        if (!ev) return this.fail(String(m.payload?.errors?.[0]?.extensions?.code ?? m.payload?.errors?.[0]?.message ?? "next without data"));
        this.seen.set(ev.id, (this.seen.get(ev.id) ?? 0) + 1);
        if (!this.firstAt.has(ev.id)) this.firstAt.set(ev.id, performance.now());
        this.cursor = ev.cursor;
      } else if (m.type === "error") {
        // STREAM_INTERRUPTED, SLOW_CONSUMER, SHUTTING_DOWN...: resume from the cursor, as the app does.
        this.fail(String(m.payload?.[0]?.extensions?.code ?? m.payload?.[0]?.message ?? "error"));
        ws.close(1000);
      } else if (m.type === "complete") ws.close(1000);
    });
    ws.on("error", () => undefined); // "close" follows
    ws.on("close", (code) => {
      onReady();
      if (this.stopped) return;
      if (code !== 1000) this.fail(`closed ${code}`);
      this.reconnects++;
      setTimeout(() => !this.stopped && this.connect(), RECONNECT_DELAY_MS);
    });
  }

  private fail(msg: string): void {
    if (this.errors.length < MAX_ERRORS && !this.errors.includes(msg)) this.errors.push(msg);
  }

  stop(): Promise<void> {
    this.stopped = true;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return Promise.resolve();
    return new Promise((resolve) => {
      ws.once("close", () => resolve());
      ws.terminate();
    });
  }
}
