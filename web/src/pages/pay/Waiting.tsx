// A payment still open: how to pay it (the QR code of the payment link,
// the address and the exact amount to copy, the token's contract), beside
// its live status and the transaction-hash form. If the link and the
// shown details disagree, nothing payable is shown.
import { checkPaymentUri } from "../../lib/checkout/uri";
import { when } from "../../lib/format";
import { CopyField } from "./Copy";
import { ProcessForm } from "./ProcessForm";
import { QrCode } from "./QrCode";
import { StatusPanel } from "./StatusPanel";
import { useNow } from "./useNow";
import type { LivePayment } from "./usePayment";
import type { CheckoutState } from "../../lib/checkout/state";

/** The pay page of an open payment. */
export function Waiting(props: { state: CheckoutState; live: LivePayment }) {
  const now = useNow();
  const { view } = props.state;
  const check = checkPaymentUri(view);
  return (
    <div className="pay-layout">
      <section className="card pay-how" aria-label="How to pay">
        <h2>Send exactly {view.amount} {view.token}</h2>
        {check.ok ? (
          <>
            <QrCode payload={check.payload} />
            <p className="hint center">Scan it with a wallet on chain {view.chain_id}, or <a href={check.payload}>open it in a wallet app</a>: it fills in the token, the address and the amount.</p>
            <CopyField label="Amount" value={view.amount} unit={view.token} testId="pay-amount" big />
            <CopyField label="To address" value={view.deposit_address} testId="pay-address" />
            <CopyField label={`${view.token} token contract`} value={view.token_address} testId="pay-token" />
            <p className="hint">Send this exact amount in one transfer. It is {view.requested_amount} {view.token} plus a tiny offset in the last digits that tells your payment apart from others; a different amount may not be recognised.</p>
          </>
        ) : (
          <p role="alert" className="error" data-testid="pay-mismatch">{check.problem} Do not pay this payment; start a new one, and tell the seller.</p>
        )}
      </section>
      <section className="card" aria-label="Payment status">
        <StatusPanel state={props.state} now={now} readError={props.live.readError} reconnect={props.live.reconnect} />
        <dl className="facts wide">
          {view.description && <><dt>For</dt><dd>{view.description}</dd></>}
          <dt>Network</dt><dd>{view.network} (chain {view.chain_id})</dd>
          <dt>Needs</dt><dd>{view.confirmations_required} confirmations</dd>
          {view.points && <><dt>Points</dt><dd>{view.user ? `${view.points} for ${view.user}` : "none: bought without signing in"}</dd></>}
          <dt>Expires</dt><dd>{when(Date.parse(view.expires_at))}</dd>
          <dt>Payment</dt><dd><code>{view.id}</code></dd>
        </dl>
        <ProcessForm submit={props.live.submitHash} />
      </section>
    </div>
  );
}
