import { readFileSync } from "node:fs";
import { isEntryPoint } from "../platform/main.js";

/** Renders a results JSON as the Markdown table used in README.md and docs/benchmarks.md. */
type Any = any; // the results file is plain JSON, read defensively

const ms = (v: number | null | undefined) => (v === null || v === undefined ? "–" : `${v} ms`);
const num = (v: number | null | undefined) => (v === null || v === undefined ? "–" : v.toLocaleString("en-US"));
const lat = (s: Any) => (s ? `${ms(s.p50)} / ${ms(s.p99)}` : "–");
/** Stack CPU per operation and the biggest consumers: "1.9 ms (wallet 0.6, postgres 0.6, gateway 0.5)". */
const cpu = (c: Any) => {
  if (!c?.cpuMsPerOperation || c.stackCpuMsPerOperation === null) return "–";
  const top = Object.entries(c.cpuMsPerOperation as Record<string, number>)
    .filter(([k]) => k !== "loadGenerator")
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([k, v]) => `${k} ${v}`);
  return `${c.stackCpuMsPerOperation} ms (${top.join(", ")})`;
};
/** An added time with its sign: "+1.2 ms", "−0.8 ms" (the gateway can be faster than a direct call). */
const signed = (x: number | null | undefined) => (typeof x === "number" && x < 0 ? `−${ms(-x)}` : `+${ms(x)}`);
/** "PostgreSQL for wallet 0.7 / earnings 0.5 ms": whose statements PostgreSQL's CPU went to. */
const pgClients = (c: Any) => {
  const by = c?.postgresByClientMsPerOperation as Record<string, number> | undefined;
  if (!by) return "";
  const parts = Object.entries(by).filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`);
  return parts.length ? `; PostgreSQL for ${parts.join(" / ")} ms` : "";
};
const errs = (r: Any) => (r && r.errors ? ` (${r.errors} errors${Object.keys(r.errorKinds ?? {}).length ? `: ${Object.keys(r.errorKinds).slice(0, 2).join("; ")}` : ""})` : "");

/** The earnings consumer's catch-up after a send load (its CPU is in the row's figure). */
const drained = (s: Any) => (typeof s?.creditDrainMs === "number" ? `; every gift credited ${num(s.creditDrainMs)} ms after the load` : "");

export function markdownTable(report: Any): string {
  const r = report.results ?? {};
  const rows: string[][] = [];
  if (r.reads) {
    rows.push(["1. `gifts` via gateway", `${num(r.reads.gateway.okPerSec)} req/s${errs(r.reads.gateway)}`, lat(r.reads.gateway.latencyMs), cpu(r.reads.gateway.cpu), `${r.reads.connections} connections`]);
    rows.push(["1. `gifts` direct to catalog", `${num(r.reads.catalog.okPerSec)} req/s${errs(r.reads.catalog)}`, lat(r.reads.catalog.latencyMs), cpu(r.reads.catalog.cpu), `${r.reads.connections} connections`]);
    rows.push([
      "1. gateway overhead",
      `throughput ratio ${r.reads.throughputRatio}`,
      `${signed(r.reads.serial.overheadP50Ms)} / ${signed(r.reads.serial.overheadP99Ms)}`,
      "",
      `serial, 1 in flight: gateway ${lat(r.reads.serial.gateway)}, catalog ${lat(r.reads.serial.catalog)}`,
    ]);
  }
  if (r.cross) rows.push(["2. cross-subgraph read (wallet+earnings+catalog)", `${num(r.cross.result.okPerSec)} req/s${errs(r.cross.result)}`, lat(r.cross.result.latencyMs), cpu(r.cross.result.cpu), `serial ${lat(r.cross.serial)}`]);
  if (r.sendSpread) rows.push([`3. sendGift spread ${r.sendSpread.senders}→${r.sendSpread.hosts}`, `${num(r.sendSpread.result.okPerSec)} gifts/s${errs(r.sendSpread.result)}`, lat(r.sendSpread.result.latencyMs), cpu(r.sendSpread.result.cpu), `${r.sendSpread.connections} connections, closed loop${drained(r.sendSpread)}${pgClients(r.sendSpread.result.cpu)}`]);
  if (r.sendHot) rows.push([`4. sendGift hot host ${r.sendHot.senders}→1`, `${num(r.sendHot.result.okPerSec)} gifts/s${errs(r.sendHot.result)}`, lat(r.sendHot.result.latencyMs), cpu(r.sendHot.result.cpu), `hot ÷ spread = ${report.derived?.hotOverSpread ?? "–"}${drained(r.sendHot)}${pgClients(r.sendHot.result.cpu)}`]);
  for (const d of r.delivery ?? []) {
    rows.push([
      `5. delivery @ ${d.offeredPerSec} gifts/s offered`,
      `${num(d.achievedSendPerSec)} sent/s, ${num(d.delivered)}/${num(d.sent)} delivered`,
      lat(d.commitToSubscriberMs),
      cpu(d.cpu),
      `commit → host's subscriber via gateway; sendGift p50/p99 ${lat(d.sendResponseMs)}${d.senderLateMs ? `; sends late against their slot p99/max ${ms(d.senderLateMs.p99)} / ${ms(d.senderLateMs.max)}` : ""}`,
    ]);
  }
  for (const f of r.fanout ?? []) {
    const who = (f.rooms ?? 1) > 1 ? `${num(f.rooms)} rooms × ${num(f.viewersPerRoom)} viewers` : `${num(f.viewers)} viewers`;
    const rate = (f.rooms ?? 1) > 1 ? `${f.giftsPerSecPerRoom} gift/s per room` : `${f.giftsPerSec} gifts/s`;
    const anchor = f.anchorMessagesPerSec != null ? `; anchor ${num(f.anchorMessagesPerSec)} msg/s, p99 ${ms(f.anchor?.commitToViewerMs?.p99)} (project ÷ anchor ${f.projectOverAnchor ?? "–"})` : "";
    const extra = f.upstreamSockets != null ? `; ${f.upstreamSockets} upstream socket(s); ${f.gatewayRssKbPerViewer ?? "–"} KB gateway RSS per idle viewer` : "";
    rows.push([
      `6. fan-out ${who}${f.catalogFields === false ? " (feed fields)" : " (+ catalog fields)"}`,
      `${num(f.messagesPerSec)} msg/s (${num(f.deliveredMessages)}/${num(f.expectedMessages)})`,
      lat(f.commitToViewerMs),
      cpu(f.cpu),
      `${rate} for ${f.durationSec}s; ${f.viewersWithErrors} viewers with errors${anchor}${extra}`,
    ]);
  }
  if (r.pgbench) {
    rows.push([
      "7. pgbench TPC-B-like (same server)",
      r.pgbench.tps !== null ? `${num(r.pgbench.tps)} tps` : `skipped: ${r.pgbench.skipped ?? "?"}`,
      ms(r.pgbench.latencyAvgMs) + " avg",
      "",
      `${r.pgbench.clients} clients, scale ${r.pgbench.scale}; sendGift/s ÷ tps = ${report.derived?.sendGiftOverPgbenchTps ?? "–"}`,
    ]);
  }
  const head = `| scenario | throughput | p50 / p99 | stack CPU per op (top 3) | notes |\n| --- | --- | --- | --- | --- |\n`;
  const body = rows.map((c) => `| ${c.join(" | ")} |`).join("\n");
  const t = report.targets ?? {};
  const mark = (x: Any) => (x?.met === null || x?.met === undefined ? "not measured" : x.met ? "met" : "NOT met");
  const targets = [
    `hot ÷ spread ${t.hotOverSpread?.value ?? "–"} (target ≥ 0.9: ${mark(t.hotOverSpread)})`,
    `sendGift ${t.sendGiftPerSec?.value ?? "–"}/s (target ≥ 1,000: ${mark(t.sendGiftPerSec)})`,
    `delivery p99 @ 500/s ${ms(t.deliveryP99At500?.value)} (target ≤ 100 ms: ${mark(t.deliveryP99At500)})`,
    `gateway overhead p50 ${ms(t.gatewayOverheadP50?.value)} (target ≤ 2 ms: ${mark(t.gatewayOverheadP50)})`,
  ];
  const m = report.machine ?? {};
  const v = report.versions ?? {};
  const footer = `\n\n${m.cores} cores (${m.cpuModel}), Node ${v.node}, PostgreSQL ${v.postgres}, ${report.profile} profile, ${report.startedAt}.\nTargets: ${targets.join("; ")}.`;
  return head + body + footer;
}

export function printTable(report: Any): void {
  process.stdout.write(`\n${markdownTable(report)}\n\n`);
}

if (isEntryPoint(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: node dist/bench/report.js bench/results/<file>.json");
    process.exit(2);
  }
  printTable(JSON.parse(readFileSync(file, "utf8")));
}
