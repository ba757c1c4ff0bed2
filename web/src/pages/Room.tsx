import { useEffect, useRef, useState } from "react";
import { useMutation, useQuery } from "@apollo/client/react";
import type { AppConfig } from "../config.js";
import type { Session } from "../session.js";
import { ME, ROOM, ROOM_FEED, SEND_GIFT } from "../operations.js";
import { describeError, describeUserError } from "../errors.js";
import { follow } from "../stream.js";
import { foldFeed, type FeedLine, type GiftEventView } from "../feed.js";
import { ErrorText, GiftImage, newKey } from "../ui.js";
import { Recharge } from "./Recharge.js";

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

  useEffect(() => {
    if (me.data?.me?.wallet) setBalance(me.data.me.wallet.coins);
  }, [me.data]);

  useEffect(() => {
    setLines([]);
    return follow<GiftEventView>({
      url: config.gatewayWsUrl,
      connectionParams: session ? { authorization: `Bearer ${session.token}` } : {},
      query: ROOM_FEED,
      variables: (after) => ({ liveSessionId: id, after }),
      after: null,
      onEvent: (e) => {
        setLines((l) => foldFeed(l, e));
        if (e.sender) setNames((n) => (n[e.sender!.id] === e.senderName ? n : { ...n, [e.sender!.id]: e.senderName }));
        if (e.quantity > 0) void room.refetch();
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
    const now = Date.now();
    let comboId: string | null = null;
    if (gift.streakable) {
      const c = combo.current;
      comboId = c && c.giftId === gift.id && now - c.at < COMBO_WINDOW_MS ? c.comboId : newKey();
      combo.current = { giftId: gift.id, comboId, at: now };
    }
    try {
      const r = await sendGift({
        variables: { input: { giftId: gift.id, hostId: s.host.id, liveSessionId: s.id, quantity: 1, expectedUnitCost: unitCost, comboId, idempotencyKey: newKey() } },
      });
      const payload = r.data?.sendGift;
      const ue = payload?.userErrors?.[0];
      if (ue) {
        if (ue.code === "PRICE_CHANGED" && ue.currentUnitCost != null) setPrices((p) => ({ ...p, [gift.id]: ue.currentUnitCost }));
        if (ue.balance != null) setBalance(ue.balance);
        setError({ text: describeUserError(ue), recharge: ue.code === "INSUFFICIENT_COINS" || ue.code === "IN_DEBT" });
        return;
      }
      if (payload?.giftEvent) setBalance(payload.giftEvent.senderBalanceAfter);
    } catch (e) {
      setError({ text: describeError(e), recharge: false });
    }
  }

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
      <div className="columns">
        <div>
          <h2>Gifts</h2>
          <ErrorText message={feedError} testId="feed-error" />
          <ul className="feed" data-testid="feed">
            {lines.map((l) => (
              <li key={l.key} data-testid="feed-line" className={l.ended ? "ended" : ""}>
                <GiftImage url={l.imageUrl} name={l.giftName} size={32} />
                <span>
                  <strong>{l.senderName}</strong> sent {l.giftName}
                </span>
                <span className="combo" data-testid="feed-count">
                  ×{l.count}
                </span>
              </li>
            ))}
            {lines.length === 0 && <li className="muted">No gifts yet: be the first.</li>}
          </ul>
        </div>
        <aside>
          <h2>Top gifters</h2>
          <ol data-testid="top-gifters">
            {s.topGifters.map((t: any) => (
              <li key={t.sender.id}>
                {t.sender.displayName ?? names[t.sender.id] ?? t.sender.id} · {t.coins} coins
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
          ) : (
            <p>
              <button onClick={onSignIn}>Sign in</button> to send gifts.
            </p>
          )}
        </aside>
      </div>
      {s.status === "LIVE" && (
        <div className="gift-bar">
          {gifts.map((g) => (
            <button key={g.id} onClick={() => send(g)} data-testid={`send-${g.name}`} title={`Send ${g.name}`}>
              <GiftImage url={g.imageUrl} name={g.name} size={28} />
              {g.name} · {prices[g.id] ?? g.coinCost}
            </button>
          ))}
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
