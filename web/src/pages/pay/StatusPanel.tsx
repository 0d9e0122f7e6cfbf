// What is happening to a payment that is not final yet: its status with a
// light, the time left, the confirmations while confirming, an exception
// in words, and whether live updates are flowing.
import { countdown, msUntil } from "../../lib/checkout/amount";
import type { CheckoutState } from "../../lib/checkout/state";
import { STATUS_TITLES, exceptionText, failureText, refusalText } from "../../lib/checkout/words";
import { short } from "../../lib/format";

/** The status card's top: status, countdown, confirmations, connection. */
export function StatusPanel(props: { state: CheckoutState; now: number; readError?: unknown; reconnect: () => void }) {
  const { view, socket, refusal } = props.state;
  const left = msUntil(view.expires_at, props.now);
  const exception = exceptionText(view.exception);
  const tx = view.transaction;
  return (
    <div className="status-panel">
      <h2 data-testid="pay-status" data-status={view.status}>
        <span className={`light ${view.status === "confirming" ? "green" : "amber"}`} aria-hidden="true" />{STATUS_TITLES[view.status]}
      </h2>
      {view.status === "waiting" && (left > 0
        ? <p>Time left: <strong className="countdown" data-testid="countdown">{countdown(left)}</strong></p>
        : <p className="bad" data-testid="countdown">Time is up. The server closes this payment shortly; a transfer sent now may be recorded as late.</p>)}
      {view.status === "confirming" && tx && (
        <p>Confirmations: <strong data-testid="confirmations">{tx.confirmations} of {view.confirmations_required}</strong>
          {" "}<span className="hint">(transaction <code title={tx.hash}>{short(tx.hash, 8)}</code>{tx.block_number !== null && <> in block {tx.block_number}</>})</span></p>
      )}
      {exception && <p className="notice">{exception}</p>}
      {view.exception === "paid_partial" && (
        <p data-testid="received">Received so far: <strong>{view.amount_received}</strong> of {view.amount} {view.token}.</p>
      )}
      {refusal && <p role="alert" className="error">{refusalText(refusal)}</p>}
      {props.readError !== undefined && <p role="alert" className="error">Could not read the payment again: {failureText(props.readError)}</p>}
      <p className="hint live" data-testid="socket" data-phase={socket.phase}>
        <span className={`light ${socket.phase === "live" ? "green" : socket.phase === "retrying" ? "red" : "amber"}`} aria-hidden="true" />
        {socket.phase === "live" ? "Live: this page changes by itself when your transfer arrives." :
          socket.phase === "retrying" ? <>Live updates lost; trying again in {Math.ceil(Math.max(0, (socket.retryAt ?? props.now) - props.now) / 1000)} s (try {socket.attempt + 1}). <button className="quiet" onClick={props.reconnect}>Reconnect now</button></> :
          "Connecting for live updates…"}
      </p>
    </div>
  );
}
