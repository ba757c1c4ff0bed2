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
 * - Edits (title, targetCoins, endsAt, giftId) only while the goal is ACTIVE and not reached; a new target must
 *   stay above the progress so an edit never "reaches" a goal. A goal's gift (on create or edit) must exist
 *   and be active in the catalog, asked through its owner read (never its tables). Cancel is allowed until reached;
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
  /** Count this gift instead (by quantity); progress is recomputed in the new unit. */
  giftId?: string | null;
}

/** What the catalog (the gifts' owner) says about a goal's gift: the sendability owner read. */
export interface GoalGift {
  id: string;
  name: string;
  sendable: boolean;
  /** Why not, when not sendable: RETIRED, NOT_STARTED, ENDED or NOT_IN_REGION. */
  reason: string | null;
}

/**
 * The catalog's owner read as goals need it (subgraphs/earnings/services.ts: the catalog client, never its
 * tables). null: no such gift. Throws when the catalog cannot answer (nothing is created then).
 */
export interface GoalGiftCatalog {
  goalGift(giftId: string, region: string, authorization?: string): Promise<GoalGift | null>;
}

const GIFT_UNAVAILABLE: Record<string, string> = {
  RETIRED: "this gift has been retired",
  NOT_STARTED: "this gift is not available yet",
  ENDED: "this gift is no longer available",
};

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

function giftIdOf(v: string | null | undefined): string | null {
  if (v === null || v === undefined) return null;
  if (!isUuid(v)) throw badInput("giftId is not a gift id", ["input", "giftId"]);
  return v.toLowerCase();
}

export class GoalService {
  constructor(
    private readonly ds: DataSource,
    private readonly catalog: GoalGiftCatalog,
  ) {}

  /**
   * A goal may count a gift that exists and is active in the catalog: retired, not yet started or
   * ended → GIFT_NOT_AVAILABLE (as sendGift says), and so is an unknown id. A gift sold only in other
   * regions is fine: viewers there can send it to this host.
   */
  private async checkGift(giftId: string, user: AuthUser, authorization: string | undefined): Promise<void> {
    const gift = await this.catalog.goalGift(giftId, user.region, authorization);
    if (!gift) throw new DomainError(ErrorCode.GIFT_NOT_AVAILABLE, "no such gift", { field: ["input", "giftId"] });
    if (!gift.sendable && gift.reason !== "NOT_IN_REGION") {
      throw new DomainError(ErrorCode.GIFT_NOT_AVAILABLE, (gift.reason && GIFT_UNAVAILABLE[gift.reason]) ?? "this gift cannot be sent now", { field: ["input", "giftId"] });
    }
  }

  async create(user: AuthUser, input: CreateGoalData, authorization?: string): Promise<LiveGoalRow> {
    if (!isUuid(input.liveSessionId)) throw badInput("liveSessionId is not a live session id", ["input", "liveSessionId"]);
    const t = title(input.title);
    const tgt = target(input.targetCoins);
    const giftId = giftIdOf(input.giftId);
    const now = new Date();
    const ends = endsAt(input.endsAt, now);
    // Asked before the transaction: no row lock is held across an HTTP call.
    if (giftId !== null) await this.checkGift(giftId, user, authorization);
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
        [input.liveSessionId, s.host_id, t, tgt, giftId, ends],
      );
      return (await this.load(m, row.id))!;
    });
  }

  /**
   * Edits an ACTIVE goal. With a new giftId the goal counts that gift from its creation on: its
   * progress is recomputed from this session's credited gifts (earnings' own gift_credits) under the
   * goal's row lock, which the consumer also takes before adding progress — a gift credited
   * concurrently is counted exactly once, in the new unit. The target must stay above the progress.
   */
  async update(user: AuthUser, input: UpdateGoalData, authorization?: string): Promise<LiveGoalRow> {
    const goal = await this.owned(user, input.goalId);
    const t = input.title == null ? null : title(input.title);
    const tgt = input.targetCoins == null ? null : target(input.targetCoins);
    const ends = input.endsAt == null ? null : endsAt(input.endsAt, new Date());
    const giftId = giftIdOf(input.giftId);
    const notActive = (g: LiveGoalRow) => new DomainError(ErrorCode.INVALID_STATE, `the goal is ${goalStatus(g)}; only an active goal can be edited`);
    if (goalStatus(goal) !== "ACTIVE") throw notActive(goal);
    const switching = giftId !== null && giftId !== goal.giftId;
    if (switching) await this.checkGift(giftId, user, authorization);
    return this.ds.transaction(async (m) => {
      // FOR UPDATE OF g: the goal row only (the consumer locks sessions before goals).
      const [r] = await m.query(`SELECT ${COLUMNS} FROM earnings.live_goals g JOIN earnings.live_sessions s ON s.id = g.live_session_id WHERE g.id = $1 FOR UPDATE OF g`, [goal.id]);
      const cur = toGoal(r);
      if (goalStatus(cur) !== "ACTIVE") throw notActive(cur);
      let progress = cur.progress;
      if (switching && giftId !== cur.giftId) {
        const [{ n }] = await m.query(
          `SELECT COALESCE(sum(quantity), 0)::bigint AS n FROM earnings.gift_credits
            WHERE live_session_id = $1 AND lower(gift_id) = $2 AND sent_at >= $3 AND ($4::timestamptz IS NULL OR sent_at < $4)`,
          [cur.liveSessionId, giftId, cur.createdAt, cur.endsAt],
        );
        progress = Number(n);
      }
      const newTarget = tgt ?? cur.target;
      // An edit never reaches a goal: a crossing is a gift's, with its event.
      if (newTarget <= progress) {
        throw new DomainError(ErrorCode.INVALID_INPUT, `targetCoins must be above the progress so far (${progress})`, { field: ["input", "targetCoins"] });
      }
      await m.query(
        `UPDATE earnings.live_goals SET title = COALESCE($2, title), target = $3, ends_at = COALESCE($4, ends_at), gift_id = COALESCE($5, gift_id), progress = $6, updated_at = now()
          WHERE id = $1`,
        [cur.id, t, newTarget, ends, switching ? giftId : null, progress],
      );
      return (await this.load(m, cur.id))!;
    });
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
