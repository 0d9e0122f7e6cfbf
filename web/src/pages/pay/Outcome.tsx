// A payment that is over: received (the transfer, its block and
// confirmations, the amount, the points credited, any exception in
// words), or expired, or failed, each saying what to do next.
import { formatUnits } from "../../lib/checkout/amount";
import type { PaymentView } from "../../lib/checkout/types";
import { STATUS_TITLES, exceptionText } from "../../lib/checkout/words";
import { points, when } from "../../lib/format";

const time = (at: string | null) => (at ? when(Date.parse(at)) : "—");

/** The success page: the payment is `paid`. */
export function Success(props: { view: PaymentView }) {
  const { view } = props;
  const tx = view.transaction;
  const exception = exceptionText(view.exception);
  const received = view.amount_received !== "0" ? view.amount_received : view.amount;
  return (
    <section className="card outcome paid" aria-label="Payment received" data-testid="pay-success">
      <h2><span className="light green" aria-hidden="true" />{STATUS_TITLES.paid}</h2>
      <p>Thank you. <strong data-testid="success-amount">{received}</strong> {view.token} arrived{view.user && view.points !== null ? `: ${points(view.points)} points for ${view.user}` : ""}.</p>
      {exception && <p className="notice" data-testid="success-exception">{exception}</p>}
      <dl className="facts wide">
        <dt>Transaction</dt><dd><code data-testid="success-tx">{tx?.hash ?? "—"}</code></dd>
        <dt>Block</dt><dd data-testid="success-block">{tx?.block_number ?? "—"}</dd>
        <dt>Confirmations</dt><dd data-testid="success-confirmations">{tx ? `${tx.confirmations} of ${view.confirmations_required}` : "—"}</dd>
        {tx?.from && <><dt>From</dt><dd><code>{tx.from}</code></dd></>}
        <dt>Amount asked</dt><dd>{view.amount} {view.token}</dd>
        <dt>Token</dt><dd>{view.token} <code>{view.token_address}</code></dd>
        <dt>Network</dt><dd>{view.network} (chain {view.chain_id})</dd>
        <dt>Paid at</dt><dd>{time(view.paid_at)}</dd>
        <dt>Points</dt><dd data-testid="success-points">{view.user === null ? "none: bought without signing in" : view.points === null ? "none for this payment" : `${points(view.points)} credited to ${view.user}`}</dd>
        <dt>Payment</dt><dd><code>{view.id}</code></dd>
      </dl>
      <a className="button" href="#/pay">Buy again</a>
    </section>
  );
}

/** The page of an `expired` or `failed` payment. */
export function Closed(props: { view: PaymentView }) {
  const { view } = props;
  const expired = view.status === "expired";
  const exception = exceptionText(view.exception);
  const got = BigInt(view.amount_received_units) > 0n;
  return (
    <section className={`card outcome ${view.status}`} aria-label={STATUS_TITLES[view.status]} data-testid="pay-closed" data-status={view.status}>
      <h2><span className="light red" aria-hidden="true" />{STATUS_TITLES[view.status]}</h2>
      {expired
        ? <p>Its time ran out at {time(view.expires_at)}{got ? "" : " before any transfer arrived"}. Start a new payment, which gets its own exact amount. If you sent the transfer already, keep this page open: a transfer that arrives late is still recorded, and this page changes by itself.</p>
        : <p>The server could not complete this payment. Do not send anything more for it; start a new payment, and contact the seller if you already sent a transfer.</p>}
      {exception && <p className="notice">{exception}</p>}
      <dl className="facts wide">
        <dt>Amount asked</dt><dd>{view.amount} {view.token}</dd>
        <dt>Received</dt><dd>{formatUnits(view.amount_received_units, view.decimals)} {view.token}</dd>
        {view.transaction && <><dt>Transaction</dt><dd><code>{view.transaction.hash}</code></dd></>}
        <dt>Payment</dt><dd><code>{view.id}</code></dd>
      </dl>
      <a className="button" href="#/pay">Start a new payment</a>
    </section>
  );
}
