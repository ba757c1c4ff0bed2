import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocketServer } from "ws";

/** Paths with a WebSocket server per HTTP server; upgrades to any other path get a 404. */
const upgradePaths = new WeakMap<Server, Set<string>>();

const pathOf = (req: IncomingMessage) => new URL(req.url ?? "/", "http://localhost").pathname;

/** Answers 404 to upgrades for paths no endpoint registered (once per HTTP server). */
function knownPaths(http: Server): Set<string> {
  let paths = upgradePaths.get(http);
  if (paths) return paths;
  const known = new Set<string>();
  upgradePaths.set(http, known);
  http.on("upgrade", (req: IncomingMessage, socket: Duplex) => {
    if (!known.has(pathOf(req))) socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n");
  });
  return known;
}

/**
 * Hands `http`'s upgrades on `path` to `wss` (noServer + our own routing: a `{ server, path }`
 * WebSocketServer answers 400 to every other path, so a second endpoint such as /partner/graphql
 * could not share the HTTP server). Browser origins `allowOrigin` refuses get a 403; upgrades
 * without an Origin header (servers, native apps) are not browsers and pass. Returns the detach.
 */
export function routeUpgrades(http: Server, path: string, wss: WebSocketServer, allowOrigin?: (origin: string) => boolean): () => void {
  const paths = knownPaths(http);
  paths.add(path);
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (pathOf(req) !== path) return;
    const origin = req.headers.origin;
    if (origin !== undefined && allowOrigin && !allowOrigin(origin)) {
      socket.end("HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit("connection", ws, req));
  };
  http.on("upgrade", onUpgrade);
  return () => {
    http.off("upgrade", onUpgrade);
    paths.delete(path);
  };
}
