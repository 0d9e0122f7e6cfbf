// The live payment panel beside the chat: every receipt as it is signed
// and accepted, the tokens received, the channel's budget left and the
// points balance, updating as chunks arrive.
import type { ChannelRecord } from "../../lib/channels";
import { amountOf, points, short } from "../../lib/format";

/** One receipt of the current answer. */
export interface PanelReceipt {
  nonce: string;
  amount: bigint;
  total: bigint;
  /** `true` when accepted, a code when refused, undefined while posting. */
  accepted?: true | string;
}

/** What the panel shows. */
export interface PanelState {
  chunks: number;
  receipts: PanelReceipt[];
  /** The payee's latest proposal total. */
  proposed?: bigint;
  /** What the payee says the answer cost, at its end. */
  cost?: bigint;
  promptTokens?: number;
  completionTokens?: number;
  stopped?: string;
}

/** Why the payee ended an answer early, and the way on. */
const STOPPED: Record<string, string> = {
  max_amount_reached: "this message's cap was reached: raise the cap or ask for less",
  collateral_exhausted: "the channel's deposit is used up: open a new channel",
  payment_timeout: "no receipt came in time: send again to go on",
  insufficient_points: "your points ran out: ask for points or pay from a channel",
  spend_cap_reached: "this key's spending cap was reached",
};

/** Receipts listed (the latest). */
const SHOWN = 12;

export const EMPTY_PANEL: PanelState = { chunks: 0, receipts: [] };

export function PaymentPanel(props: { state: PanelState; channel?: ChannelRecord; signedTotal: bigint; available?: string; balance?: string; mode: string }) {
  const { state, channel } = props;
  const budgetLeft = channel ? BigInt(channel.budget) - props.signedTotal : undefined;
  const fmt = (value: bigint | string | undefined) => amountOf(value, channel?.asset);
  // In the table the unit goes in the header.
  const bare = (value: bigint) => fmt(value).replace(/ CKB$/, "");
  const unit = channel?.asset === "CKB" ? " (CKB)" : "";
  return (
    <aside className="card panel" aria-label="Payment">
      <h2>Payment</h2>
      <dl className="facts">
        <dt>Paying from</dt>
        <dd data-testid="paying-from">{channel ? <>channel <code title={channel.id}>{short(channel.id, 4)}</code></> : "points"}</dd>
        {channel && (<><dt>Payment</dt><dd>{props.mode === "manual" ? "manual, by approval" : "auto-pay"}</dd></>)}
        <dt>Chunks received</dt>
        <dd data-testid="chunks">{state.chunks}</dd>
        {state.completionTokens !== undefined && (<><dt>Tokens</dt><dd data-testid="tokens">{state.promptTokens} in, {state.completionTokens} out</dd></>)}
        {channel && (<>
          <dt>Signed on the channel</dt>
          <dd data-testid="signed-total">{fmt(props.signedTotal)}</dd>
          <dt>Budget left</dt>
          <dd data-testid="budget-left">{fmt(budgetLeft)} of {fmt(channel.budget)}</dd>
        </>)}
        {state.cost !== undefined && (<><dt>This answer cost</dt><dd data-testid="answer-cost">{fmt(state.cost)}</dd></>)}
        {state.stopped && (<><dt>Stopped</dt><dd className="bad" data-testid="stopped">{STOPPED[state.stopped] ?? state.stopped.replace(/_/g, " ")}</dd></>)}
        <dt>Points available</dt>
        <dd data-testid="available">{points(props.available)}</dd>
      </dl>
      {channel && (
        <div className="receipts">
          <h3>Receipts of this answer</h3>
          {state.receipts.length === 0 ? <p className="empty">None yet.</p> : (
            <table data-testid="receipts">
              <thead><tr><th>#</th><th className="num">Amount{unit}</th><th className="num">Total{unit}</th><th>Accepted</th></tr></thead>
              <tbody>
                {state.receipts.slice(-SHOWN).map((r) => (
                  <tr key={r.nonce}>
                    <td>{r.nonce}</td>
                    <td className="num">+{bare(r.amount)}</td>
                    <td className="num">{bare(r.total)}</td>
                    <td>{r.accepted === true ? <span className="ok">✓ accepted</span> : r.accepted ? <span className="bad">{r.accepted}</span> : <span className="muted">posting…</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {state.receipts.length > SHOWN && <p className="hint" data-testid="receipt-count">{state.receipts.length} receipts, the last {SHOWN} shown; together they add {fmt(state.receipts.reduce((sum, r) => sum + r.amount, 0n))}.</p>}
        </div>
      )}
    </aside>
  );
}
