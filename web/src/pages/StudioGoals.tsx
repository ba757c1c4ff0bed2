import { useState } from "react";
import { useMutation } from "@apollo/client/react";
import { CANCEL_GOAL, CREATE_GOAL, UPDATE_GOAL } from "../operations.js";
import type { GoalView } from "../goals.js";

/** Runs a mutation, shows its userErrors or GraphQL error, then refetches the studio (Studio.act). */
type Act = (run: () => Promise<any>, field: string, ok?: (payload: any) => string | null) => Promise<void>;

const STATUS_WORDS: Record<GoalView["status"], string> = {
  ACTIVE: "active",
  REACHED: "reached",
  EXPIRED: "expired",
  ENDED: "ended with the session",
  CANCELED: "canceled",
};

function GoalRow({ goal, gifts, act }: { goal: GoalView; gifts: any[]; act: Act }) {
  const [update] = useMutation<any>(UPDATE_GOAL);
  const [cancel] = useMutation<any>(CANCEL_GOAL);
  const [editing, setEditing] = useState(false);
  const [title, setTitle] = useState(goal.title);
  const [target, setTarget] = useState(goal.targetCoins);
  const [giftId, setGiftId] = useState(goal.giftId ?? "");
  const unit = goal.gift ? goal.gift.name : "coins";
  return (
    <li data-testid="studio-goal" data-goal-id={goal.id} data-status={goal.status}>
      <strong>{goal.title}</strong> · <span data-testid="studio-goal-progress">{goal.progressCoins} / {goal.targetCoins} {unit}</span> ·{" "}
      <span data-testid="studio-goal-status">{STATUS_WORDS[goal.status]}</span>
      {goal.endsAt && goal.status === "ACTIVE" && <span className="muted"> · until {new Date(goal.endsAt).toLocaleTimeString()}</span>}
      {goal.status === "ACTIVE" && !editing && (
        <>
          <button className="link" onClick={() => setEditing(true)} data-testid="edit-goal">
            Edit
          </button>
          <button className="link" onClick={() => act(() => cancel({ variables: { goalId: goal.id } }), "cancelLiveGoal", () => "Goal canceled.")} data-testid="cancel-goal">
            Cancel goal
          </button>
        </>
      )}
      {editing && (
        <form
          className="inline"
          onSubmit={(e) => {
            e.preventDefault();
            const input: Record<string, unknown> = { goalId: goal.id };
            if (title !== goal.title) input.title = title;
            if (target !== goal.targetCoins) input.targetCoins = target;
            if (giftId && giftId !== goal.giftId) input.giftId = giftId;
            void act(() => update({ variables: { input } }), "updateLiveGoal", () => (setEditing(false), "Goal updated."));
          }}
        >
          <input value={title} maxLength={100} onChange={(e) => setTitle(e.target.value)} aria-label="Goal title" data-testid="edit-goal-title" />
          <input type="number" min={1} value={target} onChange={(e) => setTarget(Number(e.target.value))} aria-label="Goal target" data-testid="edit-goal-target" />
          <select value={giftId} onChange={(e) => setGiftId(e.target.value)} aria-label="What counts" data-testid="edit-goal-gift">
            {!goal.giftId && <option value="">coins</option>}
            {gifts.map((g) => (
              <option key={g.id} value={g.id}>
                {g.name}
              </option>
            ))}
          </select>
          <button type="submit" data-testid="save-goal">
            Save
          </button>
          <button type="button" className="link" onClick={() => setEditing(false)}>
            Close
          </button>
        </form>
      )}
    </li>
  );
}

/** The studio's goal bars for the current live session: create, edit, cancel, and every goal with its status. */
export function StudioGoals({ sessionId, goals, gifts, act }: { sessionId: string; goals: GoalView[]; gifts: any[]; act: Act }) {
  const [create] = useMutation<any>(CREATE_GOAL);
  const [title, setTitle] = useState("Next song");
  const [target, setTarget] = useState(1000);
  const [giftId, setGiftId] = useState("");
  const [minutes, setMinutes] = useState("");
  return (
    <div className="panel" data-testid="studio-goals">
      <h2>Goals</h2>
      <p className="muted">A goal bar shows in your room and on your overlay; up to 3 open at once. Gifts sent after you create it count.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const mins = Number(minutes);
          const endsAt = minutes.trim() && Number.isFinite(mins) ? new Date(Date.now() + mins * 60_000).toISOString() : null;
          void act(
            () => create({ variables: { input: { liveSessionId: sessionId, title, targetCoins: target, giftId: giftId || null, endsAt } } }),
            "createLiveGoal",
            () => "Goal created: it is on your overlay.",
          );
        }}
      >
        <input value={title} maxLength={100} onChange={(e) => setTitle(e.target.value)} aria-label="Goal title" data-testid="goal-title" />
        <input type="number" min={1} value={target} onChange={(e) => setTarget(Number(e.target.value))} aria-label="Goal target" data-testid="goal-target" />
        <select value={giftId} onChange={(e) => setGiftId(e.target.value)} aria-label="What counts" data-testid="goal-gift">
          <option value="">coins</option>
          {gifts.map((g) => (
            <option key={g.id} value={g.id}>
              {g.name} (count)
            </option>
          ))}
        </select>
        <input type="number" min={1} placeholder="ends in … min (optional)" value={minutes} onChange={(e) => setMinutes(e.target.value)} aria-label="Ends in minutes" data-testid="goal-minutes" />
        <button type="submit" data-testid="create-goal">
          Add goal
        </button>
      </form>
      <ul data-testid="studio-goal-list">
        {goals.map((g) => (
          <GoalRow key={`${g.id}:${g.title}:${g.targetCoins}:${g.giftId}`} goal={g} gifts={gifts} act={act} />
        ))}
      </ul>
      {goals.length === 0 && <p className="muted">No goals in this session yet.</p>}
    </div>
  );
}
