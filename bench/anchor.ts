import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { buildSchema, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from "graphql";
import { useServer } from "graphql-ws/use/ws";
import { WebSocketServer } from "ws";
import { isEntryPoint } from "../platform/main.js";

/**
 * The fan-out anchor (bench only): a bare graphql-ws server with the room feed's event shape
 * that executes each event ONCE per distinct (document, variables) and pushes the shared result
 * to every subscriber — the ~60-line custom `subscribe` from /work/shared/STACK.md "Fan-out on
 * one process". No gateway, no federation, no auth, no database: the ceiling of this machine for
 * the same messages, measured in the same run and with the same client as the project.
 *
 *   node dist/bench/anchor.js <port>     then POST /publish {"room","id",...} to emit one event
 */
const SDL = `
  type Gift { id: ID! name: String! imageUrl: String! animationUrl: String! }
  type GiftEvent { id: ID! cursor: String senderName: String! quantity: Int! comboCount: Int gift: Gift }
  type Query { ok: Boolean }
  type Subscription { liveGiftFeed(liveSessionId: ID!, after: String): GiftEvent! }
`;
const schema = buildSchema(SDL);
/** Per subscriber: what may wait for a slow client before it is dropped (the anchor bounds its queues too). */
const MAX_QUEUE = 1000;

class Queue implements AsyncIterableIterator<ExecutionResult> {
  private readonly items: ExecutionResult[] = [];
  private waiter: ((r: IteratorResult<ExecutionResult>) => void) | null = null;
  done = false;
  constructor(private readonly onClose: () => void) {}
  push(v: ExecutionResult): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w({ value: v, done: false });
    } else if (this.items.length < MAX_QUEUE) this.items.push(v);
    else void this.return();
  }
  next(): Promise<IteratorResult<ExecutionResult>> {
    if (this.items.length) return Promise.resolve({ value: this.items.shift()!, done: false });
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((r) => (this.waiter = r));
  }
  return(): Promise<IteratorResult<ExecutionResult>> {
    if (!this.done) {
      this.done = true;
      this.onClose();
      this.waiter?.({ value: undefined, done: true });
      this.waiter = null;
    }
    return Promise.resolve({ value: undefined, done: true });
  }
  [Symbol.asyncIterator]() {
    return this;
  }
}

interface Group {
  document: DocumentNode;
  variables: Record<string, unknown>;
  subscribers: Set<Queue>;
}

/** room → (document + variables) → subscribers */
const rooms = new Map<string, Map<string, Group>>();

function subscribe(args: ExecutionArgs): AsyncIterableIterator<ExecutionResult> {
  const variables = (args.variableValues ?? {}) as Record<string, unknown>;
  const room = String(variables.room ?? variables.liveSessionId ?? "");
  const key = `${JSON.stringify(args.document.loc?.source.body ?? "")}\n${JSON.stringify(variables)}`;
  let groups = rooms.get(room);
  if (!groups) rooms.set(room, (groups = new Map()));
  let group = groups.get(key);
  if (!group) groups.set(key, (group = { document: args.document, variables, subscribers: new Set() }));
  const g = group;
  const q = new Queue(() => {
    g.subscribers.delete(q);
    if (g.subscribers.size === 0) groups!.delete(key);
  });
  g.subscribers.add(q);
  return q;
}

let seq = 0;
function publish(body: Record<string, unknown>): void {
  const room = String(body.room);
  const event = {
    id: String(body.id),
    cursor: Buffer.from(`gf1:${++seq}`).toString("base64url"),
    senderName: String(body.senderName ?? "Bench sender"),
    quantity: 1,
    comboCount: null,
    gift: { id: "gift-1", name: "Rose", imageUrl: "https://cdn.example.com/gifts/rose.png", animationUrl: "https://cdn.example.com/gifts/rose.json" },
  };
  for (const g of rooms.get(room)?.values() ?? []) {
    // Once per distinct (document, variables), shared by every subscriber of it.
    const result = execute({ schema, document: g.document, rootValue: { liveGiftFeed: event }, variableValues: g.variables }) as ExecutionResult;
    for (const q of g.subscribers) q.push(result);
  }
}

export function startAnchor(port: number): Promise<() => Promise<void>> {
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== "POST" || req.url !== "/publish") {
      res.writeHead(404).end();
      return;
    }
    let raw = "";
    req.on("data", (c) => (raw += c));
    req.on("end", () => {
      // The publish instant (wall clock, ms) is the anchor's "commit": the client measures from it.
      const at = performance.timeOrigin + performance.now();
      publish(JSON.parse(raw));
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ ok: true, at }));
    });
  });
  const wss = new WebSocketServer({ server: http, path: "/graphql" });
  const server = useServer({ schema, subscribe, execute: (args) => execute(args) }, wss);
  return new Promise((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, "127.0.0.1", () =>
      resolve(async () => {
        await server.dispose();
        await new Promise<void>((r) => http.close(() => r()));
      }),
    );
  });
}

if (isEntryPoint(import.meta.url)) {
  const port = Number(process.argv[2]);
  await startAnchor(port);
  process.stdout.write(`anchor listening on ${port}\n`);
  process.on("SIGTERM", () => process.exit(0));
}
