// Pay an address through the hub: prepare (the hub leases a pool cell and
// builds the 2-in-2-out transaction), review (rebuilt here from the cells
// as the payer's own node reads them: same hash, fee within the limit),
// sign the wallet's input group in this tab, transfer, then watch the
// payment until it is complete.
import { useEffect, useState } from "react";
import { secp256k1 } from "@noble/curves/secp256k1";
import { bytesToHex } from "@noble/hashes/utils";
import { useApp } from "../../app/context";
import { call } from "../../lib/api";
import { reviewPrepared, signSender, type Reviewed } from "../../lib/ckb/hub";
import { unhex } from "../../lib/ckb/record";
import { CkbNode } from "../../lib/ckb/rpc";
import { keyId } from "../../lib/subrav";
import { ckb, short } from "../../lib/format";
import { UnlockWallet } from "../chat/UnlockWallet";
import { parseCkb } from "../channels/ckbWords";
import { explainHub, HUB_STATE } from "./hubWords";
import type { HubInfo, HubPayment, PreparedAnswer } from "./types";

interface Review {
  answer: PreparedAnswer;
  checked: Reviewed;
  amount: bigint;
}

export function HubPayForm({ info, walletKeyId, rpcUrl, onChange }: { info: HubInfo; walletKeyId: string; rpcUrl?: string; onChange: () => void }) {
  const app = useApp();
  const [to, setTo] = useState("");
  const [amount, setAmount] = useState("5");
  const [maxFee, setMaxFee] = useState("0.001");
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const [review, setReview] = useState<Review>();
  const [payment, setPayment] = useState<HubPayment>();

  const shannons = parseCkb(amount);
  const feeLimit = parseCkb(maxFee);
  const toGateway = to.trim() !== "" && to.trim() === info.gateway_address;

  // Watch the payment sent from here until the hub says it is final.
  const watching = payment && (payment.state === "sent" || payment.state === "prepared") ? payment.payment_id : undefined;
  useEffect(() => {
    if (watching === undefined) return;
    const timer = setInterval(() => {
      call<HubPayment>("GET", `/api/payment/${watching}`)
        .then((p) => {
          setPayment(p);
          if (p.state !== "sent" && p.state !== "prepared") {
            onChange();
            if (p.points) app.refreshBalance();
          }
        })
        .catch((e) => setError(explainHub(e)));
    }, 1_000);
    return () => clearInterval(timer);
  }, [watching, onChange, app]);

  const run = (what: string, work: () => Promise<void>) => {
    setBusy(what);
    setError(undefined);
    work().catch((e) => setError(explainHub(e))).finally(() => setBusy(undefined));
  };

  const prepare = () =>
    run("prepare", async () => {
      if (!shannons || feeLimit === undefined || !rpcUrl) return;
      setPayment(undefined);
      const answer = await call<PreparedAnswer>("POST", "/api/payment/prepare", { sender: walletKeyId, receiver: to.trim(), amount: shannons.toString() }, app.apiKey);
      const node = new CkbNode(rpcUrl);
      const scripts = await node.lockScripts();
      const checked = await reviewPrepared(node, scripts, {
        rawTx: unhex(answer.raw_tx),
        txHash: answer.tx_hash,
        sender: unhex(walletKeyId),
        hub: unhex(info.hub_lock_args),
        amount: shannons,
        feeRate: BigInt(info.fee_rate),
        maxFee: feeLimit,
      });
      setReview({ answer, checked, amount: shannons });
    });

  const signAndSend = () =>
    run("sign", async () => {
      if (!review || !app.secret) return;
      if (`0x${bytesToHex(keyId(secp256k1.getPublicKey(app.secret, true)))}` !== walletKeyId.toLowerCase()) throw new Error("The unlocked key is not this wallet's.");
      const signed = signSender(unhex(review.answer.raw_tx), review.checked.senderInputs, app.secret);
      const sent = await call<HubPayment>("POST", "/api/payment/transfer", { payment_id: review.answer.payment_id, tx: `0x${bytesToHex(signed)}` }, app.apiKey);
      setReview(undefined);
      setPayment(sent);
      onChange();
    });

  return (
    <section className="card" aria-label="Pay through the hub">
      <h2>Pay through the hub</h2>
      <p className="hint">
        Any amount, even below the 61 CKB a new cell needs: your cells and one of the hub's go into one transaction, and the amount moves from yours to the hub's.
        The hub credits the receiver (less its {(info.fee_bps / 100).toString()} % fee) and pays them out on chain above {ckb(info.payout_threshold)}. You pay the network fee.
      </p>
      {!review && (
        <form className="hub-form" onSubmit={(e) => { e.preventDefault(); prepare(); }}>
          <label>Pay to (CKB address or lock args)
            <input value={to} onChange={(e) => setTo(e.target.value)} spellCheck={false} autoComplete="off" data-testid="hub-to" placeholder={`${info.address_prefix}1…`} />
          </label>
          <label>Amount (CKB)
            <input inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} aria-invalid={!shannons} data-testid="hub-amount" />
          </label>
          <label>Network fee limit (CKB)
            <input inputMode="decimal" value={maxFee} onChange={(e) => setMaxFee(e.target.value)} aria-invalid={feeLimit === undefined} />
          </label>
          <button type="submit" disabled={!!busy || !shannons || feeLimit === undefined || !to.trim() || !rpcUrl}>{busy === "prepare" ? "Preparing…" : "Prepare the payment"}</button>
          {!rpcUrl && <p className="notice">Name your CKB node above first: the page checks the hub's transaction against it before your wallet signs.</p>}
          {toGateway && <p className="hint">This is the gateway's address: the payment buys points for {app.me.handle}.</p>}
        </form>
      )}
      {review && (
        <div className="hub-review" data-testid="hub-review">
          <h3>Check before signing</h3>
          <dl className="facts wide">
            <dt>To</dt><dd><code className="wrap">{review.answer.receiver}</code></dd>
            <dt>Amount</dt><dd data-testid="hub-review-amount">{ckb(review.amount)}</dd>
            <dt>Network fee</dt><dd data-testid="hub-review-fee">{ckb(review.checked.prepared.fee)} (limit {ckb(feeLimit)})</dd>
            <dt>Your change</dt><dd>{ckb(review.checked.prepared.change)}</dd>
            <dt>Cells spent</dt><dd>{review.checked.senderInputs} of your wallet's, 1 of the hub's</dd>
            <dt>Transaction</dt><dd><code className="wrap" title={review.checked.hash}>{short(review.checked.hash, 10)}</code></dd>
            <dt>Sign before</dt><dd>{new Date(review.answer.expires_at).toLocaleTimeString()}</dd>
          </dl>
          <p className="hint">Rebuilt in this page from the cells your node reports: the same transaction as the hub's, the amount and fee as shown.</p>
          {!app.secret ? <UnlockWallet /> : (
            <div className="row">
              <button onClick={signAndSend} disabled={!!busy}>{busy === "sign" ? "Signing…" : "Sign and pay"}</button>
              <button className="secondary" onClick={() => setReview(undefined)} disabled={!!busy}>Cancel</button>
            </div>
          )}
        </div>
      )}
      {payment && (
        <div className="hub-status" data-testid="hub-status" data-state={payment.state} aria-live="polite">
          <p><strong>Payment {payment.payment_id}</strong>: {ckb(payment.amount)} to <code className="wrap">{short(payment.receiver, 10)}</code> — <span data-testid="hub-state">{HUB_STATE[payment.state] ?? payment.state}</span>
            {payment.block_number !== null && <> in block {payment.block_number}</>}
            {payment.points && <>, {payment.points} points credited</>}
          </p>
          <p className="hint">Transaction <code className="wrap">{payment.tx_hash}</code></p>
          {payment.failure && <p role="alert" className="error">The payment failed: {payment.failure}</p>}
        </div>
      )}
      {error && <p role="alert" className="error" data-testid="hub-error">{error}</p>}
    </section>
  );
}
