import { readFileSync } from "node:fs";
import { isEntryPoint } from "../platform/main.js";
import { loadBenchSettings } from "./config.js";

/**
 * Summarizes a .cpuprofile: self time by function and by package/area, plus inclusive time
 * of our own functions. `node dist/bench/profile-top.js <file.cpuprofile> [top]`.
 */
interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function area(url: string): string {
  if (!url) return "(native/gc/idle)";
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + 13).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith("node:")) return url.split("/")[0];
  const d = url.indexOf("/dist/");
  return d >= 0 ? url.slice(d + 6).split("/").slice(0, 2).join("/") : url;
}

export function summarizeProfile(p: Profile, top = 25) {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const ar = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const f = n.callFrame;
    const key = `${f.functionName || "(anonymous)"} ${f.url ? `${area(f.url)}:${f.lineNumber + 1}` : ""}`;
    fn.set(key, (fn.get(key) ?? 0) + t);
    ar.set(area(f.url), (ar.get(area(f.url)) ?? 0) + t);
  }
  const idle = [...self].filter(([id]) => byId.get(id)!.callFrame.functionName === "(idle)").reduce((a, [, t]) => a + t, 0);
  const pct = (t: number) => `${((100 * t) / total).toFixed(1)}%`;
  const sorted = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, t]) => `${pct(t).padStart(6)}  ${k}`);
  return {
    totalSec: (total / 1e6).toFixed(1),
    busyPct: pct(total - idle),
    byArea: sorted(ar),
    byFunction: sorted(fn),
  };
}

if (isEntryPoint(import.meta.url)) {
  for (const file of process.argv.slice(2).filter((a) => a.endsWith(".cpuprofile"))) {
    const s = summarizeProfile(JSON.parse(readFileSync(file, "utf8")), loadBenchSettings().top);
    console.log(`\n== ${file}: ${s.totalSec}s sampled, busy ${s.busyPct}\n-- self time by area\n${s.byArea.join("\n")}\n-- self time by function\n${s.byFunction.join("\n")}`);
  }
}
