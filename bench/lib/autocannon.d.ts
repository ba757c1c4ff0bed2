// autocannon ships no types; the harness uses a small, checked surface of it (bench/lib/load.ts).
declare module "autocannon" {
  const autocannon: (opts: Record<string, unknown>) => import("node:events").EventEmitter & PromiseLike<Record<string, any>> & { stop(): void };
  export default autocannon;
}
