import { useState } from "react";
import { useMutation, useQuery } from "@apollo/client/react";
import type { Session } from "../session.js";
import { CANCEL_PAYOUT, CREATE_OVERLAY_TOKEN, END_LIVE, ENSURE_CREATOR, REQUEST_PAYOUT, REVOKE_OVERLAY_TOKEN, SEND_TEST_GIFT, START_LIVE, STUDIO } from "../operations.js";
import { describeError, describeUserError } from "../errors.js";
import { Link } from "../router.js";
import { ErrorText, newKey } from "../ui.js";
import { StudioGoals } from "./StudioGoals.js";

function Board({ title, rows, testId }: { title: string; rows: any[]; testId: string }) {
  return (
    <div>
      <h3>{title}</h3>
      <ol data-testid={testId}>
        {rows.map((t) => (
          <li key={t.sender ? t.sender.id : `anonymous:${t.rank}`}>
            {t.sender ? (t.sender.displayName ?? t.sender.id) : "Anonymous"} · {t.coins} coins · {t.gifts} gifts
          </li>
        ))}
      </ol>
      {rows.length === 0 && <p className="muted">No gifts yet.</p>}
    </div>
  );
}

export function Studio({ session }: { session: Session | null }) {
  const isHost = !!session?.user.roles.includes("host");
  const ensure = useQuery<any>(ENSURE_CREATOR, { skip: !isHost, fetchPolicy: "network-only" });
  const studio = useQuery<any>(STUDIO, { variables: { id: session?.user.id ?? "" }, skip: !isHost || !ensure.data, fetchPolicy: "network-only", pollInterval: 5000 });
  const [startLive] = useMutation<any>(START_LIVE);
  const [endLive] = useMutation<any>(END_LIVE);
  const [requestPayout] = useMutation<any>(REQUEST_PAYOUT);
  const [cancelPayout] = useMutation<any>(CANCEL_PAYOUT);
  const [createOverlay] = useMutation<any>(CREATE_OVERLAY_TOKEN);
  const [revokeOverlay] = useMutation<any>(REVOKE_OVERLAY_TOKEN);
  const [sendTest] = useMutation<any>(SEND_TEST_GIFT);
  const [title, setTitle] = useState("My stream");
  const [payoutDiamonds, setPayoutDiamonds] = useState(10_000);
  const [overlayUrl, setOverlayUrl] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  if (!session) return <p>Sign in as a host to open the studio.</p>;
  if (!isHost) return <p>The studio is for hosts: sign in with the host role.</p>;

  /** Runs a mutation and shows its userErrors or GraphQL error in words. */
  async function act(run: () => Promise<any>, field: string, ok?: (payload: any) => string | null): Promise<void> {
    setError(null);
    setMessage(null);
    try {
      const r = await run();
      const payload = r.data?.[field];
      const ue = payload?.userErrors?.[0];
      if (ue) setError(describeUserError(ue));
      else setMessage(ok?.(payload) ?? null);
      await studio.refetch();
    } catch (e) {
      setError(describeError(e));
    }
  }

  const c = studio.data?.creator;
  const live = c?.currentLiveSession;
  const gifts: any[] = studio.data?.gifts ?? [];
  return (
    <section className="studio">
      <h1>Studio</h1>
      <ErrorText message={studio.error ? describeError(studio.error) : ensure.error ? describeError(ensure.error) : null} />
      <ErrorText message={error} testId="studio-error" />
      {message && <p data-testid="studio-message">{message}</p>}
      {!c && <p>Loading…</p>}
      {c && (
        <>
          <div className="panel">
            <h2>Live session</h2>
            {live ? (
              <>
                <p data-testid="live-status">
                  Live: <strong>{live.title}</strong> · <Link to={`/room/${live.id}`}>open the room</Link>
                </p>
                <p data-testid="session-totals">
                  {live.giftCount} gifts · {live.coinsReceived} coins · {live.diamondsEarned} diamonds · {live.uniqueGifters} gifters
                </p>
                <button onClick={() => act(() => endLive({ variables: { id: live.id } }), "endLiveSession", () => "Session ended.")} data-testid="end-live">
                  End session
                </button>
              </>
            ) : (
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  void act(() => startLive({ variables: { title } }), "startLiveSession", () => "You are live.");
                }}
              >
                <input value={title} maxLength={200} onChange={(e) => setTitle(e.target.value)} data-testid="live-title" aria-label="Title" />
                <button type="submit" data-testid="go-live">
                  Go live
                </button>
              </form>
            )}
          </div>
          {live && <StudioGoals sessionId={live.id} goals={live.goals ?? []} gifts={gifts} act={act} />}
          <div className="panel">
            <h2>Diamonds</h2>
            <p>
              Balance: <strong data-testid="diamonds">{c.diamonds ?? 0}</strong> diamonds · lifetime {c.lifetimeDiamonds}
            </p>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                void act(() => requestPayout({ variables: { diamonds: payoutDiamonds, key: newKey() } }), "requestPayout", () => "Payout requested.");
              }}
            >
              <input type="number" min={10_000} step={2} value={payoutDiamonds} onChange={(e) => setPayoutDiamonds(Number(e.target.value))} aria-label="Diamonds to cash out" />
              <button type="submit" data-testid="request-payout">
                Request payout
              </button>
            </form>
            <ul data-testid="payouts">
              {c.payouts.nodes.map((p: any) => (
                <li key={p.id}>
                  {p.diamonds} diamonds · {p.amount.formatted} · {p.status}
                  {p.failureReason ? ` (${p.failureReason})` : ""}
                  {p.status === "REQUESTED" && (
                    <button className="link" onClick={() => act(() => cancelPayout({ variables: { id: p.id } }), "cancelPayout", () => "Payout canceled.")}>
                      Cancel
                    </button>
                  )}
                </li>
              ))}
            </ul>
          </div>
          <div className="panel boards">
            <Board title="This session" rows={live?.topGifters ?? []} testId="board-session" />
            <Board title="All time" rows={c.topGifters} testId="board-all-time" />
          </div>
          <div className="panel">
            <h2>OBS overlay</h2>
            <p>Add the link as a browser source in OBS (transparent background). Anyone with the link sees your gift alerts: revoke it if it leaks.</p>
            <button
              onClick={() => act(() => createOverlay(), "createOverlayToken", (p) => (setOverlayUrl(p.url), "Overlay link created: copy it now, it is shown once."))}
              data-testid="create-overlay"
            >
              New overlay link
            </button>
            {overlayUrl && (
              <p>
                <input readOnly value={overlayUrl} data-testid="overlay-url" onFocus={(e) => e.target.select()} size={60} aria-label="Overlay link" />
              </p>
            )}
            <ul data-testid="overlay-tokens">
              {(c.overlayTokens ?? []).map((t: any) => (
                <li key={t.id}>
                  link created {new Date(t.createdAt).toLocaleString()}{" "}
                  <button className="link" onClick={() => act(() => revokeOverlay({ variables: { id: t.id } }), "revokeOverlayToken", () => "Overlay link revoked.")} data-testid="revoke-overlay">
                    Revoke
                  </button>
                </li>
              ))}
            </ul>
            {gifts.length > 0 && (
              <button onClick={() => act(() => sendTest({ variables: { giftId: gifts[0].id, quantity: 1 } }), "sendTestGift", () => "Test gift sent to your overlay.")} data-testid="send-test-gift">
                Send a test gift
              </button>
            )}
          </div>
        </>
      )}
    </section>
  );
}
