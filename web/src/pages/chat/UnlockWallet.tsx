// Asks for the wallet's passphrase when a payment needs the key and the
// tab has not unlocked it (after a reload the key is locked again).
import { useState } from "react";
import { useApp } from "../../app/context";
import { explain } from "../../app/explain";

export function UnlockWallet() {
  const app = useApp();
  const [passphrase, setPassphrase] = useState("");
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  if (!app.walletKeyId) return <p className="hint">Paying from a channel needs a wallet in this browser. Sign out and create or import one.</p>;
  return (
    <form className="unlock" aria-label="Unlock your wallet" onSubmit={(e) => {
      e.preventDefault();
      setBusy(true);
      setError(undefined);
      app.unlock(passphrase).catch((err) => setError(explain(err))).finally(() => setBusy(false));
    }}>
      <label>Wallet passphrase (to sign receipts in this tab)
        <input type="password" value={passphrase} onChange={(e) => setPassphrase(e.target.value)} autoComplete="current-password" />
      </label>
      <button type="submit" disabled={busy || !passphrase}>{busy ? "Unlocking…" : "Unlock"}</button>
      {error && <p role="alert" className="error">{error}</p>}
    </form>
  );
}
