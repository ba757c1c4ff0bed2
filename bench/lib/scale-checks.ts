import pg from "pg";
import { PART_SEQ } from "../../platform/eventlog/nats-wire.js";
import { sleep } from "./stats.js";
import { uncreditedGifts } from "./credits.js";

/**
 * The database side of bench:scale's judgement (bench/scale.ts): waiting until the consumers have
 * credited every committed gift, what each room's viewers must have received, and — when gifts stay
 * uncredited — why (partition claims, positions, relay sequences, what the stream holds).
 */

/** The consumers are given this long without a new credit to credit every committed gift before the checks. */
const CREDIT_IDLE_MS = 60_000;

/**
 * When gifts stay uncredited: per subject, what the relay handed out, where the consumer stands,
 * and the partition sequences the stream holds (a gap there stalls the partition for good).
 */
export async function whyNotCredited(databaseUrl: string, natsUrl: string | null, stream: string | null): Promise<unknown> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const positions = (await c.query(`SELECT * FROM earnings.consumer_positions ORDER BY consumer`).catch((e: Error) => ({ rows: [e.message] }))).rows;
    const relay = (await c.query(`SELECT * FROM eventlog.relay_sequences ORDER BY subject`).catch((e: Error) => ({ rows: [e.message] }))).rows as { subject: string; seq: string }[];
    const activity = (
      await c.query(
        `SELECT pid, application_name AS app, state, wait_event_type AS wait_type, wait_event AS wait, round(extract(epoch FROM now() - xact_start)::numeric, 1) AS xact_sec, left(query, 100) AS query
           FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND (state <> 'idle' OR application_name LIKE 'claims:%')`,
      )
    ).rows;
    const locks = (
      await c.query(
        `SELECT l.objid::int AS partition, l.granted, a.application_name AS app FROM pg_locks l JOIN pg_stat_activity a USING (pid)
          WHERE l.locktype = 'advisory' AND a.datname = current_database() AND a.application_name LIKE 'claims:earnings:%' ORDER BY 1`,
      )
    ).rows;
    const out: Record<string, unknown> = { locks, positions: positions.filter((r: any) => r.part_subject || String(r.consumer).startsWith("nats-relay")), relay, activity };
    if (!natsUrl || !stream) return out;
    const { connect } = await import("@nats-io/transport-node");
    const { jetstreamManager } = await import("@nats-io/jetstream");
    const nc = await connect({ servers: natsUrl });
    try {
      const jsm = await jetstreamManager(nc);
      const lagging = positions.filter((r: any) => r.part_subject && relay.some((x) => x.subject === r.part_subject && BigInt(x.seq) > BigInt(r.part_seq)));
      const subjects: Record<string, unknown> = {};
      for (const r of lagging as any[]) {
        const seqs: string[] = [];
        let seq = 1;
        for (let k = 0; k < 5000; k++) {
          const m = await jsm.direct.getMessage(stream, { seq, next_by_subj: r.part_subject }).catch(() => null);
          if (!m) break;
          seqs.push(m.header.get(PART_SEQ));
          seq = m.seq + 1;
        }
        const nums = seqs.map(Number);
        const gaps: number[] = [];
        const dups: number[] = [];
        const seen = new Set<number>();
        for (const x of nums) {
          if (seen.has(x)) dups.push(x);
          seen.add(x);
        }
        for (let x = 1; x <= Math.max(0, ...nums); x++) if (!seen.has(x)) gaps.push(x);
        const consumers = await jsm.consumers.list(stream).next();
        const info = consumers.filter((ci) => ci.config.filter_subject === r.part_subject).map((ci) => ({ name: ci.name, pending: ci.num_pending, ackPending: ci.num_ack_pending, waitingPulls: ci.num_waiting, redelivered: ci.num_redelivered, ackFloor: ci.ack_floor, delivered: ci.delivered }));
        subjects[r.part_subject] = { consumerPartSeq: r.part_seq, relaySeq: relay.find((x) => x.subject === r.part_subject)?.seq, inStream: nums.length, maxInStream: Math.max(0, ...nums), gaps: gaps.slice(0, 20), dups: dups.slice(0, 20), consumers: info };
      }
      out.subjects = subjects;
    } finally {
      await nc.close();
    }
    return out;
  } finally {
    await c.end();
  }
}

export async function waitForCredits(databaseUrl: string, log: (m: string) => void): Promise<void> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const left = () => uncreditedGifts(c);
    let last = await left();
    let since = Date.now();
    while (last > 0 && Date.now() - since < CREDIT_IDLE_MS) {
      await sleep(500);
      const now = await left();
      if (now !== last) {
        since = Date.now();
        log(`${now} committed gifts not yet credited`);
      }
      last = now;
    }
  } finally {
    await c.end();
  }
}

export async function committedByRoom(databaseUrl: string): Promise<Map<string, Set<string>>> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    const rows = (await c.query<{ id: string; room: string }>(`SELECT id::text, live_session_id AS room FROM wallet.gift_events WHERE live_session_id IS NOT NULL`)).rows;
    const byRoom = new Map<string, Set<string>>();
    for (const r of rows) (byRoom.get(r.room) ?? byRoom.set(r.room, new Set()).get(r.room)!).add(r.id);
    return byRoom;
  } finally {
    await c.end();
  }
}

