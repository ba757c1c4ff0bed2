import WebSocket from "ws";
import { until } from "./eventually.js";
import { wsUrl } from "./http.js";

/**
 * A bare graphql-transport-ws socket (the `ws` package, no graphql-ws client), for tests that
 * must send what a well-behaved client never would: oversize frames, no connection_init,
 * floods of pings or subscribes. Records every message and the close code.
 */
export interface RawWs {
  socket: WebSocket;
  messages: any[];
  closed: { code: number; reason: string } | null;
  send(message: unknown): void;
  /** Resolves with the first message matching `pred` (fails if the socket closes first or after `ms`). */
  next(pred: (m: any) => boolean, what: string, ms?: number): Promise<any>;
  /** Resolves with the close code and reason, within `ms`. */
  whenClosed(ms?: number): Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

/** Opens the socket (resolves once open, or once closed if the server refuses it at once). */
export function openRaw(url: string): Promise<RawWs> {
  const socket = new WebSocket(wsUrl(url), "graphql-transport-ws");
  const raw: RawWs = {
    socket,
    messages: [],
    closed: null,
    send: (m) => socket.send(typeof m === "string" ? m : JSON.stringify(m)),
    next: async (pred, what, ms = 10_000) => {
      await until(() => raw.messages.some(pred) || raw.closed !== null, () => `${what} within ${ms} ms: ${JSON.stringify(raw.messages).slice(0, 300)}`, ms);
      const found = raw.messages.find(pred);
      if (found) return found;
      throw new Error(`closed ${raw.closed?.code} (${raw.closed?.reason}) before ${what}`);
    },
    whenClosed: async (ms = 10_000) => {
      await until(() => raw.closed !== null, "the socket to close", ms);
      return raw.closed!;
    },
    close: async () => {
      if (socket.readyState === WebSocket.CLOSED) return;
      socket.close(1000);
      await raw.whenClosed().catch(() => socket.terminate());
    },
  };
  socket.on("message", (data) => {
    try {
      raw.messages.push(JSON.parse(String(data)));
    } catch {
      raw.messages.push({ unparsed: String(data) });
    }
  });
  socket.on("error", () => undefined); // the close event carries what a test asserts
  socket.on("close", (code, reason) => {
    raw.closed = { code, reason: String(reason) };
  });
  return new Promise((resolve) => {
    socket.once("open", () => resolve(raw));
    socket.once("close", () => resolve(raw));
  });
}

/** Opens, sends connection_init with `params` and waits for connection_ack. */
export async function connectRaw(url: string, params: Record<string, unknown>): Promise<RawWs> {
  const raw = await openRaw(url);
  raw.send({ type: "connection_init", payload: params });
  await raw.next((m) => m.type === "connection_ack", "connection_ack");
  return raw;
}

/** Sends a subscribe and waits for its first answer: an `error` (payload: the errors) or a `next`. */
export async function subscribeRaw(raw: RawWs, id: string, query: string, variables: Record<string, unknown> = {}): Promise<{ type: string; payload: any }> {
  raw.send({ id, type: "subscribe", payload: { query, variables } });
  return raw.next((m) => m.id === id && (m.type === "error" || m.type === "next"), `an answer to subscription ${id}`);
}
