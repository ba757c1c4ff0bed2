import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** What the fan-out scenario reads of a process from Linux /proc (null elsewhere or when unreadable). */

/** Kilobytes of resident memory of a process (Linux /proc). */
export function rssKb(pid: number | undefined): number | null {
  if (!pid) return null;
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** Established TCP connections of process `pid` to local port `port` (Linux /proc). */
export function tcpConnectionsTo(pid: number | undefined, port: number): number | null {
  if (!pid) return null;
  try {
    const inodes = new Set<string>();
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        // closed meanwhile
      }
    }
    const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
    let n = 0;
    for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
      let text = "";
      try {
        text = readFileSync(file, "utf8");
      } catch {
        continue;
      }
      for (const line of text.split("\n").slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f.length < 10) continue;
        if (f[3] === "01" && f[2].endsWith(`:${hexPort}`) && inodes.has(f[9])) n++;
      }
    }
    return n;
  } catch {
    return null;
  }
}
