import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import type { DataSource } from "typeorm";
import { NatsEventLog, type NatsEventLogOptions } from "../../platform/eventlog/nats.js";
import { freePort } from "../../scripts/embedded-pg.js";
import { until } from "../support/eventually.js";
import type { ContractTransport } from "../support/eventlog-contract.js";

/** The shared NATS server of this machine (or CI's): NATS_URL, default the local one. */
export const NATS_URL = process.env.NATS_URL || "nats://127.0.0.1:4222";
export const NATS_SERVER_BIN = process.env.NATS_SERVER_BIN || "/usr/sbin/nats-server";

/** A unique stream and subject prefix per run, so runs on one shared server never meet. */
export function isolated(label: string, over: Partial<NatsEventLogOptions> = {}): NatsEventLogOptions {
  const tag = `${label}${process.pid}${Math.random().toString(36).slice(2, 8)}`;
  return { url: NATS_URL, stream: `T_${tag}`, subjectPrefix: `t${tag}`, feedSubjectPrefix: `f${tag}`, ackWaitMs: 2_000, ...over };
}

/** The environment of a service process on this run's own stream and subjects (NATS_URL and the rest, as platform/config.ts reads them). */
export function natsEnv(opts: NatsEventLogOptions): Record<string, string> {
  return { NATS_URL: opts.url, NATS_STREAM: opts.stream!, NATS_SUBJECT_PREFIX: opts.subjectPrefix!, NATS_FEED_SUBJECT_PREFIX: opts.feedSubjectPrefix!, NATS_ACK_WAIT_MS: String(opts.ackWaitMs ?? 30_000) };
}

/** Deletes what a run left on the server: its event stream and its feed stream. */
export async function deleteStreams(opts: NatsEventLogOptions): Promise<void> {
  const log = new NatsEventLog(opts);
  const jsm = await log.jsm();
  for (const name of [opts.stream!, `${opts.stream}_FEED`]) await jsm.streams.delete(name).catch(() => undefined);
  await log.close();
}

/** The NATS transport for the contract suite: consumers and a relay on their own connections. */
export function natsTransport(opts: NatsEventLogOptions): ContractTransport {
  return {
    name: "nats",
    open: () => new NatsEventLog(opts),
    background: async (ds: DataSource, types: Record<string, number>) => {
      const log = new NatsEventLog({ ...opts, name: "relay" });
      const relay = log.relay(ds, types, { batchSize: 50, idleMs: 50 });
      await relay.start();
      return {
        stop: async () => {
          await relay.stop();
          await log.close();
        },
        idle: async () => (await relay.lag()).pendingEvents === 0,
      };
    },
    crash: async (log) => {
      // Closing without acking or naking what it holds: JetStream redelivers those after ack_wait, as for a dead process.
      await (await (log as NatsEventLog).connection()).close();
    },
    cleanup: async () => {
      const log = new NatsEventLog(opts);
      await (await log.jsm()).streams.delete(opts.stream!).catch(() => undefined);
      await log.close();
    },
  };
}

async function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1");
    s.once("data", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * A nats-server of the test's own (free port, own store directory), so a fault test can kill and
 * restart it without touching the shared one.
 */
export class OwnNatsServer {
  private proc: ChildProcess | null = null;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), "nats-js-"));
  port = 0;

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    this.proc = spawn(NATS_SERVER_BIN, ["-js", "-sd", this.dir, "-a", "127.0.0.1", "-p", String(this.port)], { stdio: "ignore" });
    await until(() => answers(this.port), `nats-server to answer on ${this.port}`, 10_000, 50);
  }

  /** SIGKILL: no shutdown of its own, like a crash. */
  async kill(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once("exit", () => resolve());
      p.kill("SIGKILL");
    });
  }

  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
