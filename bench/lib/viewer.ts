import WebSocket from "ws";

/**
 * A lean graphql-ws viewer for the fan-out scenario: thousands of these live in the bench
 * process, which also sends the gifts, so its cost per message is part of what every figure
 * measures — for the project and the anchor alike. It speaks the protocol's client side
 * (connection_init → connection_ack → subscribe; next/error/complete; ping → pong) on a raw
 * `ws` socket and reads a `next` frame's event id with two `indexOf`s instead of parsing and
 * validating the whole message as graphql-ws' client does (about half the client CPU per
 * message at 10,000 viewers). Anything that is not a plain `next` is parsed in full.
 */
export interface Viewer {
  /** Resolves once subscribed (or once the socket closed: check `errors`). */
  ready: Promise<void>;
  received: number;
  errors: string[];
  completed: boolean;
  dispose(): Promise<void>;
}

const SUBSCRIPTION_ID = "1";
const NEXT_PREFIX = `{"id":"${SUBSCRIPTION_ID}","type":"next","payload":{"data":`;
const ID_KEY = '"id":"';
const MAX_ERRORS = 5;

export function watch(wsUrl: string, token: string, query: string, variables: Record<string, unknown>, onEvent: (id: string, at: number) => void): Viewer {
  const ws = new WebSocket(wsUrl, "graphql-transport-ws", { perMessageDeflate: false });
  let markReady: () => void = () => undefined;
  const v: Viewer = {
    ready: new Promise<void>((r) => (markReady = r)),
    received: 0,
    errors: [],
    completed: false,
    dispose: () =>
      new Promise<void>((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) return resolve();
        ws.once("close", () => resolve());
        if (ws.readyState === WebSocket.OPEN) ws.close(1000);
        else ws.terminate();
      }),
  };
  const fail = (msg: string) => {
    if (v.errors.length < MAX_ERRORS) v.errors.push(msg);
  };
  ws.on("open", () => ws.send(JSON.stringify({ type: "connection_init", payload: { authorization: `Bearer ${token}` } })));
  ws.on("message", (raw: Buffer) => {
    const at = performance.now();
    const text = raw.toString("utf8");
    if (text.startsWith(NEXT_PREFIX) && !text.includes('"errors":', NEXT_PREFIX.length)) {
      // {"id":"1","type":"next","payload":{"data":{"<field>":{"id":"<event id>",...
      const k = text.indexOf(ID_KEY, NEXT_PREFIX.length);
      if (k > 0) {
        const start = k + ID_KEY.length;
        v.received++;
        onEvent(text.slice(start, text.indexOf('"', start)), at);
        return;
      }
    }
    handle(JSON.parse(text) as { type: string; id?: string; payload?: any });
  });
  const handle = (m: { type: string; payload?: any }) => {
    if (m.type === "connection_ack") {
      ws.send(JSON.stringify({ id: SUBSCRIPTION_ID, type: "subscribe", payload: { query, variables } }));
      markReady();
    } else if (m.type === "ping") ws.send('{"type":"pong"}');
    else if (m.type === "next") {
      const data = m.payload?.data as Record<string, { id?: string }> | undefined;
      const event = data ? Object.values(data)[0] : undefined;
      if (m.payload?.errors?.length || !event?.id) return fail(String(m.payload?.errors?.[0]?.message ?? "next without data"));
      v.received++;
      onEvent(event.id, performance.now());
    }
    else if (m.type === "error") fail(String(m.payload?.[0]?.message ?? "error"));
    else if (m.type === "complete") v.completed = true;
  };
  ws.on("close", (code, reason) => {
    if (code !== 1000) fail(`closed ${code} ${reason.toString()}`);
    markReady();
  });
  ws.on("error", (e) => fail(e.message));
  return v;
}
