import type { DataSource, EntityManager } from "typeorm";
import type { AuthUser } from "../../../platform/auth.js";
import { DomainError, ErrorCode, badInput } from "../../../platform/errors.js";
import type { Credit } from "./credits.js";
import type { GoalProgressSnapshot } from "./engagement.js";
import { isUuid } from "./sessions.js";
import { rows } from "./sql.js";

/**
 * LIVE goals: a host's goal bar ("1,000 coins for the next song") in one live session.
 *
 * Rules (docs/engagement.md):
 * - Only the session's host (or an admin) creates, edits or cancels; the session must be LIVE to create.
 * - At most MAX_OPEN_GOALS goals per session that are neither canceled nor over (ended/expired).
 * - A goal's life is [createdAt, min(endsAt, canceledAt)) within its session. Progress is the exact sum
 *   of coins — or, with giftId, of that gift's quantity — of the gifts credited to the session whose
 *   sentAt falls in that life. It keeps counting past the target (the bar can show 130%).
 * - reachedAt is the sentAt of the gift that crossed the target, set exactly once: the consumer applies
 *   only freshly credited gifts (gift_credits' primary key), holds the goal rows FOR UPDATE, and
 *   never overwrites a set reachedAt. The event of that gift carries `reached: true`.
 * - Edits (title, targetCoins, endsAt) only while the goal is ACTIVE and not reached; a new target must
 *   stay above the progress so an edit never "reaches" a goal. Cancel is allowed until reached;
 *   canceling a canceled goal returns it unchanged.
 */
export const MAX_OPEN_GOALS = 3;
export const MAX_GOAL_TITLE = 100;
export const MAX_GOAL_TARGET = 2_147_483_647;
/** endsAt at most this far ahead (a goal outliving any plausible stream is a mistake). */
export const MAX_GOAL_DURATION_MS = 24 * 3_600_000;

export type LiveGoalStatus = "ACTIVE" | "REACHED" | "EXPIRED" | "ENDED" | "CANCELED";

export interface LiveGoalRow {
  id: string;
  liveSessionId: string;
  hostId: string;
  title: string;
  target: number;
  giftId: string | null;
  progress: number;
  reachedAt: Date | null;
  endsAt: Date | null;
  canceledAt: Date | null;
  createdAt: Date;
  sessionEndedAt: Date | null;
}

const COLUMNS = `g.id, g.live_session_id, g.host_id, g.title, g.target, g.gift_id, g.progress, g.reached_at, g.ends_at, g.canceled_at, g.created_at, s.ended_at AS session_ended_at`;

function toGoal(r: Record<string, any>): LiveGoalRow {
  return {
    id: r.id,
    liveSessionId: r.live_session_id,
    hostId: r.host_id,
    title: r.title,
    target: Number(r.target),
    giftId: r.gift_id,
    progress: Number(r.progress),
    reachedAt: r.reached_at,
    endsAt: r.ends_at,
    canceledAt: r.canceled_at,
    createdAt: r.created_at,
    sessionEndedAt: r.session_ended_at ?? null,
  };
}

/** Status at `now`: canceled wins, then reached, then over by time or by the session ending. */
export function goalStatus(g: LiveGoalRow, now = new Date()): LiveGoalStatus {
  if (g.canceledAt) return "CANCELED";
  if (g.reachedAt) return "REACHED";
  if (g.endsAt && g.endsAt.getTime() <= now.getTime()) return "EXPIRED";
  if (g.sessionEndedAt) return "ENDED";
  return "ACTIVE";
}

export interface CreateGoalData {
  liveSessionId: string;
  title: string;
  targetCoins: number;
  giftId?: string | null;
  endsAt?: Date | null;
}

export interface UpdateGoalData {
  goalId: string;
  title?: string | null;
  targetCoins?: number | null;
  endsAt?: Date | null;
}

function title(t: string): string {
  const v = t.trim();
  if (v.length < 1 || [...v].length > MAX_GOAL_TITLE || /[\u0000-\u001f\u007f]/.test(v)) throw badInput(`title must be 1 to ${MAX_GOAL_TITLE} characters without control characters`, ["input", "title"]);
  return v;
}

function target(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > MAX_GOAL_TARGET) {
    throw new DomainError(ErrorCode.INVALID_INPUT, `targetCoins must be between 1 and ${MAX_GOAL_TARGET}`, { field: ["input", "targetCoins"] });
  }
  return n;
}

function endsAt(d: Date | null | undefined, now: Date): Date | null {
  if (d === null || d === undefined) return null;
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) throw badInput("endsAt is not a date-time", ["input", "endsAt"]);
  if (d.getTime() <= now.getTime() || d.getTime() > now.getTime() + MAX_GOAL_DURATION_MS) {
    throw new DomainError(ErrorCode.INVALID_INPUT, "endsAt must be in the future and at most 24 hours ahead", { field: ["input", "endsAt"] });
  }
  return d;
}

export class GoalService {
  constructor(private readonly ds: DataSource) {}

  async create(user: AuthUser, input: CreateGoalData): Promise<LiveGoalRow> {
    if (!isUuid(input.liveSessionId)) throw badInput("liveSessionId is not a live session id", ["input", "liveSessionId"]);
    const t = title(input.title);
    const tgt = target(input.targetCoins);
    const giftId = input.giftId ?? null;
    if (giftId !== null && !isUuid(giftId)) throw badInput("giftId is not a gift id", ["input", "giftId"]);
    const now = new Date();
    const ends = endsAt(input.endsAt, now);
    return this.ds.transaction(async (m) => {
      // The session row lock serializes concurrent creates, so the open-goal cap holds exactly.
      const [s] = await m.query(`SELECT host_id, status FROM earnings.live_sessions WHERE id = $1 FOR UPDATE`, [input.liveSessionId]);
      if (!s || (s.host_id !== user.id && !user.roles.includes("admin"))) throw new DomainError(ErrorCode.NOT_FOUND, "no such live session", { field: ["input", "liveSessionId"] });
      if (s.status !== "LIVE") throw new DomainError(ErrorCode.SESSION_NOT_LIVE, "goals can only be created in a live session", { field: ["input", "liveSessionId"] });
      const [{ n }] = await m.query(
        `SELECT count(*)::int AS n FROM earnings.live_goals WHERE live_session_id = $1 AND canceled_at IS NULL AND reached_at IS NULL AND (ends_at IS NULL OR ends_at > now())`,
        [input.liveSessionId],
      );
      if (n >= MAX_OPEN_GOALS) throw new DomainError(ErrorCode.LIMIT_EXCEEDED, `at most ${MAX_OPEN_GOALS} open goals per live session; cancel one first`);
      const [row] = await m.query(
        `INSERT INTO earnings.live_goals (live_session_id, host_id, title, target, gift_id, ends_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, date_trunc('milliseconds', now())) RETURNING id`,
        [input.liveSessionId, s.host_id, t, tgt, giftId ? giftId.toLowerCase() : null, ends],
      );
      return (await this.load(m, row.id))!;
    });
  }

  async update(user: AuthUser, input: UpdateGoalData): Promise<LiveGoalRow> {
    const goal = await this.owned(user, input.goalId);
    const t = input.title == null ? null : title(input.title);
    const tgt = input.targetCoins == null ? null : target(input.targetCoins);
    const ends = input.endsAt == null ? null : endsAt(input.endsAt, new Date());
    if (goalStatus(goal) !== "ACTIVE") throw new DomainError(ErrorCode.INVALID_STATE, `the goal is ${goalStatus(goal)}; only an active goal can be edited`);
    // Conditional: the consumer holds the row while it adds progress, so "target above progress" is checked under that lock.
    const [row] = await rows(
      this.ds,
      `UPDATE earnings.live_goals SET title = COALESCE($2, title), target = COALESCE($3, target), ends_at = COALESCE($4, ends_at), updated_at = now()
        WHERE id = $1 AND reached_at IS NULL AND canceled_at IS NULL AND ($3::bigint IS NULL OR progress < $3::bigint)
        RETURNING id`,
      [goal.id, t, tgt, ends],
    );
    if (!row) {
      const now = (await this.load(this.ds, goal.id))!;
      if (goalStatus(now) !== "ACTIVE") throw new DomainError(ErrorCode.INVALID_STATE, `the goal is ${goalStatus(now)}; only an active goal can be edited`);
      throw new DomainError(ErrorCode.INVALID_INPUT, `targetCoins must be above the progress so far (${now.progress})`, { field: ["input", "targetCoins"] });
    }
    return (await this.load(this.ds, goal.id))!;
  }

  async cancel(user: AuthUser, goalId: string): Promise<LiveGoalRow> {
    const goal = await this.owned(user, goalId);
    if (goal.canceledAt) return goal;
    const [row] = await rows(this.ds, `UPDATE earnings.live_goals SET canceled_at = now(), updated_at = now() WHERE id = $1 AND reached_at IS NULL AND canceled_at IS NULL RETURNING id`, [goal.id]);
    const now = (await this.load(this.ds, goal.id))!;
    if (!row && !now.canceledAt) throw new DomainError(ErrorCode.INVALID_STATE, "the goal was reached; a reached goal cannot be canceled");
    return now;
  }

  /** Goals of many sessions, oldest first (DataLoader batch). */
  async bySessions(sessionIds: readonly string[]): Promise<LiveGoalRow[][]> {
    const valid = [...new Set(sessionIds.filter(isUuid).map((s) => s.toLowerCase()))];
    const found = valid.length
      ? await this.ds.query(`SELECT ${COLUMNS} FROM earnings.live_goals g JOIN earnings.live_sessions s ON s.id = g.live_session_id WHERE g.live_session_id = ANY($1::uuid[]) ORDER BY g.created_at, g.id`, [valid])
      : [];
    const by = new Map<string, LiveGoalRow[]>();
    for (const r of found.map(toGoal)) by.set(r.liveSessionId, [...(by.get(r.liveSessionId) ?? []), r]);
    return sessionIds.map((s) => by.get(s.toLowerCase()) ?? []);
  }

  private async owned(user: AuthUser, goalId: string): Promise<LiveGoalRow> {
    if (!isUuid(goalId)) throw badInput("goalId is not a goal id", ["input", "goalId"]);
    const goal = await this.load(this.ds, goalId);
    // Someone else's goal looks like no goal: ids are not an oracle.
    if (!goal || (goal.hostId !== user.id && !user.roles.includes("admin"))) throw new DomainError(ErrorCode.NOT_FOUND, "no such goal", { field: ["input", "goalId"] });
    return goal;
  }

  private async load(m: EntityManager | DataSource, id: string): Promise<LiveGoalRow | null> {
    const [r] = await m.query(`SELECT ${COLUMNS} FROM earnings.live_goals g JOIN earnings.live_sessions s ON s.id = g.live_session_id WHERE g.id = $1`, [id]);
    return r ? toGoal(r) : null;
  }
}

interface GoalState {
  id: string;
  liveSessionId: string;
  title: string;
  target: number;
  giftId: string | null;
  progress: number;
  reachedAt: Date | null;
  reachedBy: string | null;
  from: number;
  until: number;
  delta: number;
}

/**
 * Called once per consumer batch with the freshly credited gifts (in event order): two statements
 * for any number of gifts and goals (read the sessions' goals FOR UPDATE, one UPDATE of the goals
 * that moved). Returns, per gift event id, the goals it advanced — the stream events' progress.
 */
export async function applyGoalProgress(m: EntityManager, applied: readonly Credit[]): Promise<Map<string, GoalProgressSnapshot[]>> {
  const out = new Map<string, GoalProgressSnapshot[]>();
  const sessions = [...new Set(applied.map((c) => c.liveSessionId).filter((s): s is string => !!s))].sort();
  if (sessions.length === 0) return out;
  const found: Record<string, any>[] = await m.query(
    `SELECT id, live_session_id::text AS live_session_id, title, target, gift_id, progress, reached_at, reached_by, created_at, ends_at, canceled_at
       FROM earnings.live_goals WHERE live_session_id = ANY($1::uuid[]) ORDER BY id FOR UPDATE`,
    [sessions],
  );
  if (found.length === 0) return out;
  const goals: GoalState[] = found.map((r) => ({
    id: r.id,
    liveSessionId: r.live_session_id,
    title: r.title,
    target: Number(r.target),
    giftId: r.gift_id,
    progress: Number(r.progress),
    reachedAt: r.reached_at,
    reachedBy: r.reached_by,
    from: r.created_at.getTime(),
    until: Math.min(r.ends_at ? r.ends_at.getTime() : Infinity, r.canceled_at ? r.canceled_at.getTime() : Infinity),
    delta: 0,
  }));
  for (const c of applied) {
    if (!c.liveSessionId) continue;
    const t = c.sentAt.getTime();
    for (const g of goals) {
      if (g.liveSessionId !== c.liveSessionId || t < g.from || t >= g.until) continue;
      if (g.giftId !== null && g.giftId !== c.giftId.toLowerCase()) continue;
      const delta = g.giftId === null ? c.coins : c.quantity;
      if (delta === 0) continue;
      g.progress += delta;
      g.delta += delta;
      const reached = g.reachedAt === null && g.progress >= g.target;
      if (reached) {
        g.reachedAt = c.sentAt;
        g.reachedBy = c.giftEventId;
      }
      out.set(c.giftEventId, [...(out.get(c.giftEventId) ?? []), { goalId: g.id, title: g.title, progress: g.progress, target: g.target, reached }]);
    }
  }
  const moved = goals.filter((g) => g.delta > 0);
  if (moved.length) {
    await m.query(
      `UPDATE earnings.live_goals g
          SET progress = g.progress + a.delta, reached_at = COALESCE(g.reached_at, a.reached_at), reached_by = COALESCE(g.reached_by, a.reached_by), updated_at = now()
         FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[], $4::text[]) AS a(id, delta, reached_at, reached_by)
        WHERE g.id = a.id`,
      [moved.map((g) => g.id), moved.map((g) => g.delta), moved.map((g) => g.reachedAt?.toISOString() ?? null), moved.map((g) => g.reachedBy)],
    );
  }
  return out;
}
