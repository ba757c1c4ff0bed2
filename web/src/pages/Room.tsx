import { useEffect, useRef, useState } from "react";
import { useMutation, useQuery } from "@apollo/client/react";
import type { AppConfig } from "../config.js";
import type { Session } from "../session.js";
import { ME, ROOM, ROOM_FEED, SEND_GIFT } from "../operations.js";
import { describeError, describeUserError } from "../errors.js";
import { follow } from "../stream.js";
import { foldFeed, type FeedLine, type GiftEventView } from "../feed.js";
import { foldGoalProgress, goalBars, GoalBars, type GoalSnapshots, type GoalView } from "../goals.js";
import { coinsForMessage, MAX_MESSAGE_CHARS, MESSAGE_TIERS, messageCharsFor, messageLength } from "../messages.js";
import { ErrorText, GiftImage, newKey } from "../ui.js";
import { Recharge } from "./Recharge.js";

/** One line of the feed: a gift (badge, name or "Anonymous", message, count) or a level-up. */
function FeedItem({ l }: { l: FeedLine }) {
  if (l.kind === "levelUp") {
    return (
      <li data-testid="feed-levelup" className="level-up">
        <span>
          ★ <strong>{l.senderName}</strong> reached gifter level <strong>{l.level}</strong>
        </span>
      </li>
    );
  }
  return (
    <li data-testid="feed-line" className={l.ended ? "ended" : ""} data-anonymous={l.anonymous}>
      <GiftImage url={l.imageUrl} name={l.giftName} size={32} />
      <span>
        {l.level != null && (
          <span className="level-badge" data-testid="feed-level" title={`Gifter level ${l.level}`}>
            Lv {l.level}
          </span>
        )}
        <strong data-testid="feed-sender">{l.senderName}</strong> sent {l.giftName}
        {l.message && (
          <span className="gift-message" data-testid="feed-message">
            “{l.message}”
          </span>
        )}
      </span>
      <span className="combo" data-testid="feed-count">
        ×{l.count}
      </span>
    </li>
  );
}

/** Consecutive sends of one streakable gift within this window continue its combo. */
const COMBO_WINDOW_MS = 3000;

export function Room({ id, config, session, onSignIn }: { id: string; config: AppConfig; session: Session | null; onSignIn: () => void }) {
  const room = useQuery<any>(ROOM, { variables: { id } });
  const me = useQuery<any>(ME, { skip: !session, fetchPolicy: "network-only" });
  const [sendGift] = useMutation<any>(SEND_GIFT);
  const [lines, setLines] = useState<FeedLine[]>([]);
  const [names, setNames] = useState<Record<string, string>>({});
  const [feedError, setFeedError] = useState<string | null>(null);
  const [error, setError] = useState<{ text: string; recharge: boolean } | null>(null);
  const [balance, setBalance] = useState<number | null>(null);
  const [showRecharge, setShowRecharge] = useState(false);
  const [prices, setPrices] = useState<Record<string, number>>({});
  const combo = useRef<{ giftId: string; comboId: string; at: number } | null>(null);
  const [message, setMessage] = useState("");
  const [anonymous, setAnonymous] = useState(false);
  const [snaps, setSnaps] = useState<GoalSnapshots>({});
  /** Our own sends whose feed event will move our level: refetch `me` when it arrives (credited by then). */
  const mine = useRef(new Set<string>());
  const goals: GoalView[] = room.data?.liveSession?.goals ?? [];
  const goalsRef = useRef(goals);
  goalsRef.current = goals;

  useEffect(() => {
    if (me.data?.me?.wallet) setBalance(me.data.me.wallet.coins);
  }, [me.data]);

  useEffect(() => {
    setLines([]);
    setSnaps({});
    return follow<GiftEventView>({
      url: config.gatewayWsUrl,
      connectionParams: session ? { authorization: `Bearer ${session.token}` } : {},
      query: ROOM_FEED,
      variables: (after) => ({ liveSessionId: id, after }),
      after: null,
      onEvent: (e) => {
        setLines((l) => foldFeed(l, e));
        if (e.goalProgress?.length) setSnaps((s) => foldGoalProgress(s, e.goalProgress, goalsRef.current).snaps);
        if (e.sender) setNames((n) => (n[e.sender!.id] === e.senderName ? n : { ...n, [e.sender!.id]: e.senderName }));
        // The room's totals and goals (a goal created meanwhile shows up here too).
        if (e.quantity > 0) void room.refetch();
        if (mine.current.delete(e.id)) void me.refetch();
      },
      onFatal: (message) => setFeedError(message),
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [id, session?.token, config.gatewayWsUrl]);

  const s = room.data?.liveSession;
  const gifts: any[] = room.data?.gifts ?? [];

  async function send(gift: any): Promise<void> {
    setError(null);
    if (!session) return onSignIn();
    const unitCost = prices[gift.id] ?? gift.coinCost;
    const text = message.normalize("NFC").trim();
    if (messageLength(text) > messageCharsFor(unitCost)) {
      setError({ text: `A ${gift.name} (${unitCost} coins) carries at most ${messageCharsFor(unitCost)} characters: shorten the message or pick a bigger gift.`, recharge: false });
      return;
    }
    const now = Date.now();
    let comboId: string | null = null;
    if (gift.streakable) {
      const c = combo.current;
      comboId = c && c.giftId === gift.id && now - c.at < COMBO_WINDOW_MS ? c.comboId : newKey();
      combo.current = { giftId: gift.id, comboId, at: now };
    }
    try {
      const r = await sendGift({
        variables: {
          input: { giftId: gift.id, hostId: s.host.id, liveSessionId: s.id, quantity: 1, expectedUnitCost: unitCost, comboId, message: text || null, anonymous, idempotencyKey: newKey() },
        },
      });
      const payload = r.data?.sendGift;
      const ue = payload?.userErrors?.[0];
      if (ue) {
        if (ue.code === "PRICE_CHANGED" && ue.currentUnitCost != null) setPrices((p) => ({ ...p, [gift.id]: ue.currentUnitCost }));
        if (ue.balance != null) setBalance(ue.balance);
        setError({ text: describeUserError(ue), recharge: ue.code === "INSUFFICIENT_COINS" || ue.code === "IN_DEBT" });
        return;
      }
      if (payload?.giftEvent) {
        setBalance(payload.giftEvent.senderBalanceAfter);
        mine.current.add(payload.giftEvent.id);
        setMessage(""); // a message goes with one gift
      }
    } catch (e) {
      setError({ text: describeError(e), recharge: false });
    }
  }

  const length = messageLength(message);
  const needs = coinsForMessage(length);
  const level = me.data?.me?.gifterLevel;
  const bars = goalBars(goals, snaps);

  if (room.error) return <ErrorText message={describeError(room.error)} />;
  if (!s) return <p>{room.loading ? "Loading room…" : "This room does not exist."}</p>;
  return (
    <section className="room">
      <header>
        <h1 data-testid="room-title">{s.title}</h1>
        <p>
          <strong>{s.host.displayName}</strong> · {s.status === "LIVE" ? "live now" : "ended"} · {s.giftCount} gifts · {s.coinsReceived} coins
        </p>
      </header>
      <GoalBars bars={bars} testId="room-goals" />
      <div className="columns">
        <div>
          <h2>Gifts</h2>
          <ErrorText message={feedError} testId="feed-error" />
          <ul className="feed" data-testid="feed">
            {lines.map((l) => (
              <FeedItem key={l.key} l={l} />
            ))}
            {lines.length === 0 && <li className="muted">No gifts yet: be the first.</li>}
          </ul>
        </div>
        <aside>
          <h2>Top gifters</h2>
          <ol data-testid="top-gifters">
            {s.topGifters.map((t: any) => (
              <li key={t.sender ? t.sender.id : `anonymous:${t.rank}`}>
                {t.sender ? (t.sender.displayName ?? names[t.sender.id] ?? t.sender.id) : "Anonymous"} · {t.coins} coins
              </li>
            ))}
          </ol>
          {session ? (
            <p>
              Your balance: <strong data-testid="balance">{balance ?? "…"}</strong> coins{" "}
              <button onClick={() => setShowRecharge(true)} data-testid="open-recharge">
                Buy coins
              </button>
            </p>
          ) : null}
          {session && level ? (
            <p data-testid="my-gifter-level">
              Your gifter level: <span className="level-badge">Lv <span data-testid="my-level">{level.level}</span></span>
              {level.coinsToNext != null ? ` · ${level.coinsToNext} coins to level ${level.level + 1}` : " · the top level"}
            </p>
          ) : null}
          {session ? null : (
            <p>
              <button onClick={onSignIn}>Sign in</button> to send gifts.
            </p>
          )}
        </aside>
      </div>
      {s.status === "LIVE" && (
        <div className="send-form" data-testid="send-form">
          <div className="send-options">
            <input
              value={message}
              maxLength={MAX_MESSAGE_CHARS * 2}
              onChange={(e) => setMessage(e.target.value)}
              placeholder="Add a message (optional)"
              aria-label="Message"
              data-testid="gift-message"
              size={50}
            />
            <span className={needs === null ? "error" : "muted"} data-testid="message-hint">
              {length}/{MAX_MESSAGE_CHARS}
              {length === 0
                ? ` · ${MESSAGE_TIERS.map(([c, n]) => `${c}+ coins: ${n}`).join(", ")} characters`
                : needs === null
                  ? " · too long for any gift"
                  : ` · needs a gift of ${needs}+ coins`}
            </span>
            <label>
              <input type="checkbox" checked={anonymous} onChange={(e) => setAnonymous(e.target.checked)} data-testid="gift-anonymous" /> Send anonymously
            </label>
          </div>
          <div className="gift-bar">
            {gifts.map((g) => {
              const cost = prices[g.id] ?? g.coinCost;
              const tooShort = length > messageCharsFor(cost);
              return (
                <button
                  key={g.id}
                  onClick={() => send(g)}
                  data-testid={`send-${g.name}`}
                  disabled={tooShort}
                  title={tooShort ? `A ${g.name} carries at most ${messageCharsFor(cost)} characters` : `Send ${g.name}`}
                >
                  <GiftImage url={g.imageUrl} name={g.name} size={28} />
                  {g.name} · {cost}
                </button>
              );
            })}
          </div>
        </div>
      )}
      {error && (
        <div className="error-box">
          <ErrorText message={error.text} testId="send-error" />
          {error.recharge && (
            <button onClick={() => setShowRecharge(true)} data-testid="recharge-offer">
              Recharge
            </button>
          )}
        </div>
      )}
      {showRecharge && (
        <Recharge
          onDone={() => {
            setError(null);
            void me.refetch();
          }}
          onClose={() => setShowRecharge(false)}
        />
      )}
    </section>
  );
}
