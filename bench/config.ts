// The benchmarks' settings from the environment: the one place bench/ reads process.env
// (the services they start read theirs through platform/config.ts).

export interface BenchSettings {
  /** DATABASE_URL: an admin URL on which scratch databases are created (some benches require it). */
  databaseUrl: string | undefined;
  /** PGBENCH: the pgbench binary, when it is not found by itself. */
  pgbench: string | undefined;
  /** PATH, searched for pgbench. */
  path: string;
  /** TOP: functions listed by profile-top. */
  top: number;
  /** BENCH_MAX_SOCKETS: the load generator's keep-alive pool size. */
  maxSockets: number;
  /** BENCH_CPU_PROF_DIR: where each service process writes its CPU profile (unset = no profiling). */
  cpuProfDir: string | undefined;
  /** NATS_URL for bench:scale (empty = the local default). */
  natsUrl: string;
  /** SCALE_LOG_LEVEL: the scaled services' LOG_LEVEL. */
  scaleLogLevel: string;
}

export function loadBenchSettings(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  return {
    databaseUrl: env.DATABASE_URL,
    pgbench: env.PGBENCH,
    path: env.PATH ?? "",
    top: Number(env.TOP ?? 25),
    maxSockets: Number(env.BENCH_MAX_SOCKETS ?? 256),
    cpuProfDir: env.BENCH_CPU_PROF_DIR,
    natsUrl: env.NATS_URL || "nats://127.0.0.1:4222",
    scaleLogLevel: env.SCALE_LOG_LEVEL ?? "warn",
  };
}

/** The environment a benchmark's service process inherits (the harness adds its ports and URLs on top). */
export function inheritedEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env };
}
