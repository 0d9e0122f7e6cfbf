// One CKB channel: its state and confirmations, what it can pay and what
// was paid, the refund (checked, shown, downloadable as JSON), receipts
// signed here, paying on it, settling it, and taking the refund after
// the expiry.
import { useEffect, useState } from "react";
import { useApp } from "../../app/context";
import type { CkbInfo, CkbPayer, RefundFile, RemoteCkbChannel } from "../../lib/ckb/payer";
import { CkbPayer as Payer } from "../../lib/ckb/payer";
import { maxPayment } from "../../lib/ckb/spilman";
import { termsOf } from "../../lib/ckb/record";
import { saveText } from "../../lib/download";
import { short } from "../../lib/format";
import { ckb, explainCkb, parseCkb, STATE_WORDS } from "./ckbWords";

export function CkbChannelDetail(props: { payer: CkbPayer; id: string; remote?: RemoteCkbChannel; info?: CkbInfo; tip?: bigint; onChange: () => void }) {
  const { payer, id, remote, info, tip } = props;
  const app = useApp();
  const record = payer.book.get(id);
  const [depth, setDepth] = useState<number>();
  const [refund, setRefund] = useState<RefundFile>();
  const [refundError, setRefundError] = useState<string>();
  const [amount, setAmount] = useState("1");
  const [busy, setBusy] = useState<string>();
  const [error, setError] = useState<string>();
  const [done, setDone] = useState<string>();
  const funding = remote?.funding_tx_hash;

  useEffect(() => {
    if (!funding) return;
    payer.confirmations(funding).then(setDepth).catch(() => setDepth(undefined));
  }, [payer, funding, tip]);

  const unlocked = app.secret !== undefined;
  useEffect(() => {
    if (!record) return;
    payer.refund(record, app.secret).then((r) => { setRefund(r); setRefundError(undefined); }).catch((e) => setRefundError(explainCkb(e)));
    // Once per channel and lock state: the refund does not change.
  }, [payer, id, unlocked]);

  const run = (what: string, work: () => Promise<string | void>) => {
    setBusy(what);
    setError(undefined);
    setDone(undefined);
    work().then((message) => message && setDone(message)).catch((e) => setError(explainCkb(e))).finally(() => { setBusy(undefined); props.onChange(); });
  };

  const state = remote?.state;
  const log = payer.book.log(id).slice(0, 20);
  const signed = record ? Payer.signedTotal(record) : 0n;
  const canPay = record ? maxPayment(termsOf(record).funds) : remote ? BigInt(remote.max_payment) : undefined;
  const payShannons = parseCkb(amount);
  const expiry = BigInt(remote?.expiry_block ?? record?.expiryBlock ?? 0);
  const afterExpiry = tip !== undefined && tip >= expiry;
  const closed = state !== undefined && ["settling", "settling_after_expiry", "settled", "refunding", "refunded"].includes(state);
  const final = state === "settled" || state === "refunded" || state === "abandoned";

  return (
    <section className="card" aria-label="CKB channel">
      <h2>CKB channel <code title={id}>{short(id)}</code></h2>
      <dl className="facts wide">
        <dt>State</dt><dd data-testid="ckb-detail-state">{state ? STATE_WORDS[state] ?? state : "…"}</dd>
        <dt>Funding</dt><dd>{funding ? <><code title={funding}>{short(funding, 10)}</code>{" — "}<span data-testid="ckb-confirmations">{depth === undefined ? "…" : depth === 0 ? "not yet in a block" : `${depth} confirmation${depth === 1 ? "" : "s"}`}</span>{info ? ` (active from ${info.funding_confirmations})` : ""}</> : "not sent yet"}</dd>
        <dt>Channel cell</dt><dd>{remote?.cell ?? record?.cell ? <code>{short(remote?.cell ?? record!.cell, 10)}</code> : "—"}</dd>
        <dt>Deposit / seller's co-funding</dt><dd>{ckb(remote?.deposit ?? record?.buyerDeposit)} / {ckb(remote?.cofund ?? record?.sellerCofund)}</dd>
        <dt>Can pay at most</dt><dd>{ckb(canPay)}</dd>
        <dt>Paid (the seller's latest commitment)</dt><dd data-testid="ckb-paid">{ckb(remote?.paid)}</dd>
        <dt>Signed in this browser</dt><dd data-testid="ckb-signed">{record ? ckb(signed) : "this channel was opened elsewhere"}</dd>
        <dt>Expiry</dt><dd>block {expiry.toString()}{tip !== undefined && !closed && !final ? (afterExpiry ? " (passed: you can take your refund)" : ` (${(expiry - tip).toString()} blocks from now)`) : ""}</dd>
        {remote?.closing_tx_hash && <><dt>Closing transaction</dt><dd><code data-testid="ckb-closing" title={remote.closing_tx_hash}>{short(remote.closing_tx_hash, 10)}</code></dd></>}
      </dl>

      <h3>Your refund</h3>
      {!record ? <p className="hint">The refund of this channel is kept where it was opened.</p> : refundError ? <p role="alert" className="error">{refundError}</p> : !refund ? <p className="muted">Checking the refund…</p> : (
        <div data-testid="ckb-refund">
          {closed && <p className="notice">The channel {state === "refunded" || state === "refunding" ? "was refunded" : "was settled"}: its cell is spent, so this refund can no longer be used. It stays here for your records.</p>}
          <p>
            Signed by the seller (<span className="ok">signature checked</span>): returns {ckb(BigInt(record.buyerDeposit) - BigInt(record.fee))} to your wallet from block {refund.expiry_block} on,
            if the channel was not settled before. Transaction <code title={refund.refund_tx_hash}>{short(refund.refund_tx_hash, 10)}</code>.
            {refund.buyer_signed ? " The file holds your signature too: any node can send it." : " Unlock the wallet to add your signature to the file."}
          </p>
          <div className="row">
            <button className="secondary" onClick={() => saveText(JSON.stringify(refund, null, 2) + "\n", `tollway-ckb-refund-${id.slice(2, 14)}.json`, "application/json")}>Download the refund (JSON)</button>
            {afterExpiry && app.secret && (state === "active" || state === "expired") && (
              <button onClick={() => run("refund", async () => `Refund sent: ${await payer.takeRefund(record, app.secret!)}`)} disabled={!!busy}>{busy === "refund" ? "Sending…" : "Take the refund now"}</button>
            )}
          </div>
        </div>
      )}

      {record && state === "active" && (
        <>
          <h3>Pay on this channel</h3>
          {!app.secret ? <p className="hint">Unlock the wallet above to sign receipts.</p> : (
            <form className="row" onSubmit={(e) => {
              e.preventDefault();
              if (payShannons) run("pay", async () => { const ack = await payer.pay(payer.book.get(id)!, payShannons, app.secret!); return `Receipt #${ack.nonce} accepted: ${ckb(ack.accepted)} in total.`; });
            }}>
              <label>Amount (CKB)<input inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} aria-invalid={!payShannons} /></label>
              <button type="submit" disabled={!!busy || !payShannons}>{busy === "pay" ? "Signing…" : "Sign and pay"}</button>
            </form>
          )}
          <p className="hint">Each receipt carries the commitment transaction paying its total, signed by your wallet here. Chat answers paid from this channel add receipts the same way.</p>
        </>
      )}

      {record && (
        <>
          <h3>Receipts signed here</h3>
          {log.length === 0 ? <p className="empty">No receipt signed on this channel yet.</p> : (
            <div className="table-wrap">
              <table data-testid="ckb-receipts">
                <thead><tr><th>#</th><th className="num">Amount</th><th className="num">Total</th><th>Accepted</th></tr></thead>
                <tbody>{log.map((r) => (
                  <tr key={r.nonce}><td>{r.nonce}</td><td className="num">+{ckb(r.amount)}</td><td className="num">{ckb(r.total)}</td>
                    <td>{r.accepted === true ? <span className="ok">✓</span> : r.accepted === false ? <span className="muted">not yet</span> : <span className="bad">{r.accepted}</span>}</td></tr>
                ))}</tbody>
              </table>
            </div>
          )}
        </>
      )}

      {state === "active" && (
        <div className="row">
          <button className="secondary" disabled={!!busy} onClick={() => run("settle", async () => { await payer.settle(id); return "The seller is settling: the latest commitment goes on chain."; })}>
            {busy === "settle" ? "Settling…" : "Settle and close now"}
          </button>
          <span className="hint">The seller sends the latest commitment: it gets what you paid, you get the rest.</span>
        </div>
      )}
      {done && !final && <p className="ok" role="status">{done}</p>}
      {error && <p role="alert" className="error">{error}</p>}
    </section>
  );
}
