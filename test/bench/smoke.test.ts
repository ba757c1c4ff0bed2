import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";

/**
 * CI smoke of the benchmark harness: it runs end to end for a few seconds per scenario against
 * the run's PostgreSQL and writes its results file. Figures are never asserted (speed belongs
 * in bench/, and CI machines differ); only that every scenario ran and reported.
 */
const ROOT = path.resolve(__dirname, "../..");
const out = mkdtempSync(path.join(os.tmpdir(), "gift-bench-smoke-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function runHarness(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [path.join(ROOT, "dist/bench/run.js"), "--smoke", "--out", out],
      { cwd: ROOT, env: { ...process.env, DATABASE_URL: inject("pgAdminUrl"), NODE_ENV: "" }, maxBuffer: 32 << 20, timeout: 240_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin?.end();
  });
}

describe("benchmark harness (smoke)", () => {
  it("starts the stack in production mode, runs every scenario and writes bench results JSON with the machine and versions", { timeout: 300_000 }, async () => {
    expect(existsSync(path.join(ROOT, "dist/bench/run.js")), "dist/ is built by npm test (tsc) first").toBe(true);
    const run = await runHarness();
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    const files = readdirSync(out).filter((f) => f.endsWith(".json"));
    expect(files).toHaveLength(1);
    const report = JSON.parse(readFileSync(path.join(out, files[0]), "utf8"));
    expect(report.ok).toBe(true);
    expect(report.profile).toBe("smoke");
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.versions.node).toBe(process.version);
    expect(report.versions.postgres).toMatch(/^\d+/);
    expect(report.setup.serviceEnv.NODE_ENV).toBe("production");
    expect(Object.keys(report.results).sort()).toEqual(["cross", "delivery", "fanout", "pgbench", "reads", "sendHot", "sendSpread"]);
    // Every load scenario actually completed requests (a harness that measured nothing must fail).
    expect(report.results.reads.gateway.ok).toBeGreaterThan(0);
    expect(report.results.reads.catalog.ok).toBeGreaterThan(0);
    expect(report.results.cross.result.ok).toBeGreaterThan(0);
    expect(report.results.sendSpread.result.ok).toBeGreaterThan(0);
    expect(report.results.sendHot.result.ok).toBeGreaterThan(0);
    expect(report.results.delivery[0].delivered).toBeGreaterThan(0);
    for (const f of report.results.fanout) {
      expect(f.deliveredMessages).toBeGreaterThan(0);
      // The anchor ran in the same run, on the same client, and its figure sits beside the project's.
      expect(f.anchorMessagesPerSec).toBeGreaterThan(0);
      expect(f.anchor.deliveredMessages).toBeGreaterThan(0);
    }
    expect(report.results.fanout.some((f: { rooms: number }) => f.rooms > 1)).toBe(true);
    // pgbench is optional on a machine without the binary, but then it says why.
    expect(report.results.pgbench.tps ?? report.results.pgbench.skipped).toBeTruthy();
    // The printed table is the README's format.
    expect(run.stdout).toContain("| scenario | throughput | p50 / p99 | stack CPU per op (top 3) | notes |");
  });
});
