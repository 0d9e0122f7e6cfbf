// "Already sent it?": the buyer pastes the transaction's hash and the
// server looks at that transaction now (`POST /api/v1/payments/{id}/process`,
// idempotent), instead of waiting for its watcher.
import { useState } from "react";
import type { PaymentView } from "../../lib/checkout/types";
import { STATUS_TITLES, failureText, refusalText } from "../../lib/checkout/words";
import { useAction } from "../common/useAction";

const HASH = /^0x[0-9a-fA-F]{64}$/;

/** The transaction-hash form; `submit` is the live payment's `submitHash`. */
export function ProcessForm(props: { submit: (hash: string) => Promise<PaymentView> }) {
  const [hash, setHash] = useState("");
  const [local, setLocal] = useState<string>();
  const check = useAction<PaymentView>();
  const onSubmit = () => {
    const text = hash.trim();
    if (!HASH.test(text)) {
      check.clear();
      setLocal(refusalText({ code: "invalid_transaction_hash", message: "" }));
      return;
    }
    setLocal(undefined);
    void check.run(() => props.submit(text));
  };
  return (
    <form className="process" aria-label="Submit a transaction hash" onSubmit={(e) => { e.preventDefault(); onSubmit(); }}>
      <h3>Already sent it?</h3>
      <p className="hint">Paste the transaction hash from your wallet and the server checks that transaction now.</p>
      <div className="row">
        <label>Transaction hash
          <input value={hash} onChange={(e) => { setHash(e.target.value); setLocal(undefined); check.clear(); }} placeholder="0x…" spellCheck={false} autoComplete="off" />
        </label>
        <button type="submit" className="secondary" disabled={check.busy || !hash.trim()}>{check.busy ? "Checking…" : "Check this transaction"}</button>
      </div>
      {(local ?? check.error) !== undefined && <p role="alert" className="error">{local ?? failureText(check.error)}</p>}
      {check.result && <p className="notice" data-testid="process-result">Checked. The payment is now: {STATUS_TITLES[check.result.status].toLowerCase()}.</p>}
    </form>
  );
}
