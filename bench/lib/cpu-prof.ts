import { writeFileSync } from "node:fs";
import inspector from "node:inspector";
import path from "node:path";
import { loadBenchSettings } from "../config.js";

/**
 * Preloaded into each service with NODE_OPTIONS=--import (node refuses --cpu-prof in
 * NODE_OPTIONS, and the Supervisor owns the command line): samples the CPU from start to
 * exit and writes <BENCH_CPU_PROF_DIR>/<service>-<pid>.cpuprofile (open in Chrome DevTools,
 * or summarize with `node dist/bench/profile-top.js <file>`). The in-process inspector
 * answers synchronously, so the profile can be written from the exit handler.
 */
const dir = loadBenchSettings().cpuProfDir;
if (dir) {
  const entry = process.argv[1] ?? "node";
  const service = path.basename(path.dirname(entry)) === "gateway" ? "gateway" : path.basename(path.dirname(entry));
  const session = new inspector.Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.setSamplingInterval", { interval: 500 });
  session.post("Profiler.start");
  process.on("exit", () => {
    session.post("Profiler.stop", (err, res) => {
      if (!err && res?.profile) writeFileSync(path.join(dir, `${service}-${process.pid}.cpuprofile`), JSON.stringify(res.profile));
    });
  });
}
