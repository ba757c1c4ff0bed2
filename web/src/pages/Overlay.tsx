import { useEffect, useRef, useState } from "react";
import type { AppConfig } from "../config.js";
import { OVERLAY_GIFTS } from "../operations.js";
import { follow } from "../stream.js";
import type { GiftEventView } from "../feed.js";
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

function tokenFromHash(): string | null {
  return new URLSearchParams(location.hash.slice(1)).get("token");
}

/**
 * The OBS browser source: a transparent page showing one alert per gift, queued so a storm
 * drops nothing, combos counting up on their alert. It saves the cursor of each alert as it
 * is shown, so a reload resumes after the last alert seen: no repeat, and what was still
 * queued is replayed.
 */
export function Overlay({ config }: { config: AppConfig }) {
  const token = tokenFromHash();
  const params = new URLSearchParams(location.search);
  const alertMs = Math.min(Math.max(Number(params.get("alertMs") ?? 4000) || 4000, 200), 60_000);
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
      onStatus: (s) => setStatus(s),
    });
    return () => {
      stop();
      if (timer.current) clearTimeout(timer.current);
    };
  }, [token, cursorKey, alertMs, config.gatewayWsUrl]);

  return (
    <div className="overlay" data-testid="overlay" data-status={status} data-queued={queued}>
      {current && (
        <div className="alert" data-testid="overlay-alert" data-event-id={current.id} key={current.id}>
          <GiftImage url={current.imageUrl} name={current.giftName} size={96} />
          <div>
            <div className="who">
              {current.isTest && <span className="test-badge">TEST </span>}
              <strong data-testid="alert-sender">{current.senderName}</strong> sent {current.giftName}
            </div>
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
