import { GiftImage } from "./ui.js";

/** A goal as the app selects it (operations.ts GOAL_FIELDS). */
export interface GoalView {
  id: string;
  title: string;
  targetCoins: number;
  progressCoins: number;
  giftId: string | null;
  status: "ACTIVE" | "REACHED" | "EXPIRED" | "ENDED" | "CANCELED";
  reachedAt: string | null;
  endsAt: string | null;
  gift: { id: string; name: string; imageUrl: string } | null;
}

/** GiftEvent.goalProgress: a goal right after one gift. */
export interface GoalProgressView {
  goalId: string;
  title: string;
  progressCoins: number;
  targetCoins: number;
  reached: boolean;
}

/** The latest progress a stream event reported for a goal, and the unit (giftId) it was counted in. */
export interface GoalSnapshot extends GoalProgressView {
  giftId: string | null | undefined;
}

export type GoalSnapshots = Record<string, GoalSnapshot>;

/**
 * Folds an event's goalProgress into the snapshots (the bar moves at once, before any refetch).
 * Returns the same object when nothing changed, and whether a goal was unknown (time to refetch).
 */
export function foldGoalProgress(snaps: GoalSnapshots, progress: readonly GoalProgressView[] | null | undefined, known: readonly GoalView[]): { snaps: GoalSnapshots; unknown: boolean } {
  if (!progress?.length) return { snaps, unknown: false };
  const next = { ...snaps };
  let unknown = false;
  for (const p of progress) {
    const goal = known.find((g) => g.id === p.goalId);
    if (!goal) unknown = true;
    const prev = next[p.goalId];
    const giftId = goal ? goal.giftId : undefined;
    // Events arrive in stream order, so the latest one is the progress; "reached" sticks (one event says it).
    const sameUnit = !!prev && (prev.giftId === undefined || giftId === undefined || prev.giftId === giftId);
    next[p.goalId] = { ...p, reached: p.reached || (sameUnit && prev.reached), giftId };
  }
  return { snaps: next, unknown };
}

export interface GoalBarView {
  id: string;
  title: string;
  progress: number;
  target: number;
  reached: boolean;
  gift: GoalView["gift"];
}

/**
 * What to draw: the fetched goals that are ACTIVE or REACHED (canceled, expired and ended ones
 * disappear), each at the furthest progress known — the fetch or a later stream event. Progress only
 * grows, except when the host switches a goal to another gift: a snapshot counted in another unit
 * is ignored.
 */
export function goalBars(goals: readonly GoalView[], snaps: GoalSnapshots): GoalBarView[] {
  return goals
    .filter((g) => g.status === "ACTIVE" || g.status === "REACHED")
    .map((g) => {
      const s = snaps[g.id];
      const usable = s && (s.giftId === undefined || s.giftId === g.giftId);
      const progress = Math.max(g.progressCoins, usable ? s.progressCoins : 0);
      return { id: g.id, title: g.title, progress, target: g.targetCoins, reached: g.status === "REACHED" || (usable && s.reached) || progress >= g.targetCoins, gift: g.gift };
    });
}

export function GoalBars({ bars, testId }: { bars: GoalBarView[]; testId: string }) {
  if (bars.length === 0) return null;
  return (
    <div className="goals" data-testid={testId}>
      {bars.map((b) => {
        const pct = Math.min(100, Math.floor((b.progress * 100) / Math.max(1, b.target)));
        return (
          <div key={b.id} className={b.reached ? "goal reached" : "goal"} data-testid="goal-bar" data-goal-id={b.id} data-progress={b.progress} data-target={b.target} data-reached={b.reached}>
            <div className="goal-label">
              {b.gift && <GiftImage url={b.gift.imageUrl} name={b.gift.name} size={20} />}
              <strong>{b.title}</strong>
              <span className="goal-count" data-testid="goal-count">
                {b.progress} / {b.target} {b.gift ? b.gift.name : "coins"}
              </span>
              {b.reached && (
                <span className="goal-reached" data-testid="goal-reached">
                  Reached!
                </span>
              )}
            </div>
            <div className="goal-track">
              <div className="goal-fill" style={{ width: `${pct}%` }} />
            </div>
          </div>
        );
      })}
    </div>
  );
}
