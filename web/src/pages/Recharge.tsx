import { useState } from "react";
import { useMutation, useQuery } from "@apollo/client/react";
import { COIN_PACKAGES, CONFIRM_RECHARGE, RECHARGE } from "../operations.js";
import { describeError, describeFailure, describeUserError } from "../errors.js";
import { ErrorText, newKey } from "../ui.js";

/** Sandbox cards (the provider's test tokens): card data never touches this API. */
const CARDS = [
  { token: "pm_card_ok", label: "Visa •••• 4242 (sandbox)" },
  { token: "pm_card_3ds", label: "Visa •••• 3155, 3-D Secure (sandbox)" },
  { token: "pm_card_declined_insufficient_funds", label: "Card with insufficient funds (sandbox)" },
];

export function Recharge({ onDone, onClose }: { onDone: (coins: number) => void; onClose: () => void }) {
  const packages = useQuery<any>(COIN_PACKAGES);
  const [recharge] = useMutation<any>(RECHARGE);
  const [confirm] = useMutation<any>(CONFIRM_RECHARGE);
  const [card, setCard] = useState(CARDS[0].token);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [challenge, setChallenge] = useState<{ orderId: string; url: string; coins: number; price: string } | null>(null);

  function settle(payload: any): void {
    const ue = payload?.userErrors?.[0];
    const order = payload?.order;
    if (ue && !order) return setError(describeUserError(ue));
    if (!order) return setError("The purchase did not go through.");
    if (order.status === "SUCCEEDED") {
      setChallenge(null);
      setDone(`Added ${order.totalCoins} coins (${order.price.formatted}).`);
      onDone(order.totalCoins);
    } else if (order.status === "REQUIRES_ACTION") {
      setChallenge({ orderId: order.id, url: order.nextAction?.redirectUrl ?? "", coins: order.totalCoins, price: order.price.formatted });
    } else if (order.status === "PENDING") {
      setDone("Payment pending: your coins arrive when your bank confirms.");
    } else {
      setChallenge(null);
      setError(describeFailure(order.failureCode));
    }
  }

  async function buy(packageId: string): Promise<void> {
    setError(null);
    setDone(null);
    setBusy(true);
    try {
      const r = await recharge({ variables: { input: { packageId, paymentMethod: { type: "CARD", token: card }, idempotencyKey: newKey() } } });
      settle(r.data?.recharge);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  async function approve(): Promise<void> {
    if (!challenge) return;
    setBusy(true);
    try {
      const r = await confirm({ variables: { orderId: challenge.orderId } });
      settle(r.data?.confirmRecharge);
    } catch (e) {
      setError(describeError(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="panel" data-testid="recharge">
      <h2>Buy coins</h2>
      <label>
        Pay with{" "}
        <select value={card} onChange={(e) => setCard(e.target.value)} data-testid="card">
          {CARDS.map((c) => (
            <option key={c.token} value={c.token}>
              {c.label}
            </option>
          ))}
        </select>
      </label>
      <ErrorText message={packages.error ? describeError(packages.error) : null} />
      <div className="packages">
        {packages.data?.coinPackages.map((p: any) => (
          <button key={p.id} disabled={busy || !!challenge} onClick={() => buy(p.id)} data-testid={`package-${p.coins}`}>
            {p.totalCoins} coins{p.bonusCoins ? ` (+${p.bonusCoins} bonus)` : ""} · {p.price.formatted}
          </button>
        ))}
      </div>
      {challenge && (
        <div className="challenge" data-testid="three-ds">
          <h3>3-D Secure</h3>
          <p>
            Your bank asks you to confirm paying {challenge.price} for {challenge.coins} coins.
            {challenge.url && (
              <>
                {" "}
                (Bank page: <code>{challenge.url}</code>)
              </>
            )}
          </p>
          <button disabled={busy} onClick={approve} data-testid="three-ds-approve">
            I approved it with my bank
          </button>
        </div>
      )}
      <ErrorText message={error} testId="recharge-error" />
      {done && <p data-testid="recharge-done">{done}</p>}
      <button className="link" onClick={onClose}>
        Close
      </button>
    </div>
  );
}
