import { useEffect, useMemo, useRef, useState } from "react";
import { useQuery } from "@apollo/client/react";
import type { AppConfig } from "../config.js";
import { makeClient } from "../apollo.js";
import { OVERLAY_GIFTS, OVERLAY_GOALS } from "../operations.js";
import { follow } from "../stream.js";
import type { GiftEventView } from "../feed.js";
import { foldGoalProgress, goalBars, GoalBars, type GoalSnapshots, type GoalView } from "../goals.js";
import { GiftImage } from "../ui.js";

interface Alert {
  /** The first event's id (one alert per gift; a combo's later gifts count it up). */
  id: string;
  comboKey: string | null;
  senderName: string;
  giftName: string;
  imageUrl: string | null;
  count: number;
  isTest: boolean;
  message: string | null;
  /** Cursor of the latest event folded into this alert: saved when it is shown. */
  cursor: string | null;
}

declare global {
  interface Window {
    /** Alert ids in the order shown (browser tests read it). */
    __overlayShown?: string[];
  }
}

const MAX_QUEUE = 10_000;

function fromHash(name: string): string | null {
  return new URLSearchParams(location.hash.slice(1)).get(name);
}

/**
 * The OBS browser source: a transparent page showing one alert per gift, queued so a storm
 * drops nothing, combos counting up on their alert. It saves the cursor of each alert as it
 * is shown, so a reload resumes after the last alert seen: no repeat, and what was still
 * queued is replayed.
 *
 * Goal bars: drawn from each event's goalProgress at once; the goals themselves (created, edited,
 * canceled by the host) come from a public read of the host's current session, polled every few
 * seconds, on every (re)connect and when an event names a goal not seen yet — no stream event
 * kinds were added for them (docs/engagement.md "Web app"). The link names the host (#host=…);
 * an older link without it learns the host from its first event.
 */
export function Overlay({ config }: { config: AppConfig }) {
  const token = fromHash("token");
  const params = new URLSearchParams(location.search);
  const alertMs = Math.min(Math.max(Number(params.get("alertMs") ?? 4000) || 4000, 200), 60_000);
  const goalsMs = Math.min(Math.max(Number(params.get("goalsMs") ?? 3000) || 3000, 500), 60_000);
  // Public reads only: never the viewer's session (OBS has none), so an anonymous client of its own.
  const client = useMemo(() => makeClient(config, null), [config]);
  const [hostId, setHostId] = useState<string | null>(fromHash("host"));
  const goalsQuery = useQuery<any>(OVERLAY_GOALS, { client, variables: { hostId: hostId ?? "" }, skip: !hostId || !token, pollInterval: goalsMs, fetchPolicy: "network-only", notifyOnNetworkStatusChange: false });
  const goals: GoalView[] = goalsQuery.data?.creator?.currentLiveSession?.goals ?? [];
  const goalsRef = useRef(goals);
  goalsRef.current = goals;
  const refetchGoals = useRef<() => void>(() => undefined);
  refetchGoals.current = () => {
    if (hostId && token) void goalsQuery.refetch().catch(() => undefined);
  };
  const [snaps, setSnaps] = useState<GoalSnapshots>({});
  const cursorKey = `overlay.cursor:${token ?? ""}`;
  const [current, setCurrent] = useState<Alert | null>(null);
  const [status, setStatus] = useState<string>(token ? "connecting" : "This overlay link has no token: create one in the studio.");
  const queue = useRef<Alert[]>([]);
  const showing = useRef<Alert | null>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const [queued, setQueued] = useState(0);

  useEffect(() => {
    // OBS composites the page over the scene: nothing but the alerts may be opaque.
    document.documentElement.classList.add("overlay-page");
    window.__overlayShown = [];
    return () => document.documentElement.classList.remove("overlay-page");
  }, []);

  useEffect(() => {
    if (!token) return;
    const save = (cursor: string | null) => {
      if (cursor) localStorage.setItem(cursorKey, cursor);
    };
    const show = (a: Alert | null) => {
      showing.current = a;
      setCurrent(a ? { ...a } : null);
      setQueued(queue.current.length);
      if (!a) return;
      save(a.cursor);
      window.__overlayShown?.push(a.id);
      timer.current = setTimeout(() => show(queue.current.shift() ?? null), alertMs);
    };
    const onEvent = (e: GiftEventView) => {
      if (e.host?.id) setHostId((h) => h ?? e.host!.id);
      if (e.goalProgress?.length) {
        const { unknown } = foldGoalProgress({}, e.goalProgress, goalsRef.current);
        setSnaps((s) => foldGoalProgress(s, e.goalProgress, goalsRef.current).snaps);
        if (unknown) refetchGoals.current();
      }
      const comboKey = e.comboId ? `${e.sender?.id ?? e.senderName}:${e.comboId}` : null;
      // A combo's next gift or its end counts up the alert it belongs to, shown or queued.
      const target = comboKey ? [showing.current, ...queue.current].find((a) => a?.comboKey === comboKey) : undefined;
      if (target) {
        target.count = e.comboCount ?? target.count + e.quantity;
        target.cursor = e.cursor ?? target.cursor;
        if (target === showing.current) {
          save(target.cursor);
          setCurrent({ ...target });
        }
        return;
      }
      if (e.quantity === 0) {
        // Nothing to show (a combo end we did not see begin): remember the position only.
        const last = queue.current[queue.current.length - 1] ?? showing.current;
        if (last) last.cursor = e.cursor ?? last.cursor;
        else save(e.cursor);
        return;
      }
      const alert: Alert = {
        id: e.id,
        comboKey,
        senderName: e.senderName,
        giftName: e.gift?.name ?? "a gift",
        imageUrl: e.gift?.imageUrl ?? null,
        count: e.comboCount ?? e.quantity,
        isTest: !!e.isTest,
        message: e.message ?? null,
        cursor: e.cursor,
      };
      if (!showing.current) show(alert);
      else if (queue.current.length < MAX_QUEUE) {
        queue.current.push(alert);
        setQueued(queue.current.length);
      }
    };
    const stop = follow<GiftEventView>({
      url: config.gatewayWsUrl,
      connectionParams: { overlayToken: token },
      query: OVERLAY_GIFTS,
      variables: (after) => ({ after }),
      after: localStorage.getItem(cursorKey),
      onEvent,
      onFatal: (message, code) => setStatus(code === 4403 || /revoked/i.test(message) ? "This overlay link was revoked." : `Overlay stopped: ${message}`),
      onStatus: (s) => {
        setStatus(s);
        // A (re)connect may follow a gap: goals may have changed meanwhile.
        if (s === "live") refetchGoals.current();
      },
    });
    return () => {
      stop();
      if (timer.current) clearTimeout(timer.current);
    };
  }, [token, cursorKey, alertMs, config.gatewayWsUrl]);

  return (
    <div className="overlay" data-testid="overlay" data-status={status} data-queued={queued}>
      <GoalBars bars={goalBars(goals, snaps)} testId="overlay-goals" />
      {current && (
        <div className="alert" data-testid="overlay-alert" data-event-id={current.id} key={current.id}>
          <GiftImage url={current.imageUrl} name={current.giftName} size={96} />
          <div>
            <div className="who">
              {current.isTest && <span className="test-badge">TEST </span>}
              <strong data-testid="alert-sender">{current.senderName}</strong> sent {current.giftName}
            </div>
            {current.message && (
              <div className="message" data-testid="alert-message">
                “{current.message}”
              </div>
            )}
            <div className="count" data-testid="alert-count">
              ×{current.count}
            </div>
          </div>
        </div>
      )}
      {status !== "live" && status !== "connecting" && (
        <p className="overlay-status" data-testid="overlay-status">
          {status}
        </p>
      )}
    </div>
  );
}
