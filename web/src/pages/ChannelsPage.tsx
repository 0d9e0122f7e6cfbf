// Payment channels: ledger channels (points moved into escrow, paid by
// receipts the wallet key signs in this browser) — open, watch, close —
// and, below, CKB channels on chain.
import { secp256k1 } from "@noble/curves/secp256k1";
import { useCallback, useEffect, useMemo, useState } from "react";
import { useApp } from "../app/context";
import { explain } from "../app/explain";
import type { ChannelRecord, RemoteChannel } from "../lib/channels";
import { points, short, when } from "../lib/format";
import { LedgerChannels, signedTotal } from "../lib/ledgerChannels";
import { CkbChannels } from "./channels/CkbChannels";
import { UnlockWallet } from "./chat/UnlockWallet";

const digits = (text: string) => text.replace(/[^0-9]/g, "");

export function ChannelsPage() {
  const app = useApp();
  const payer = useMemo(() => (app.walletKeyId ? new LedgerChannels(app.apiKey, app.walletKeyId) : undefined), [app.apiKey, app.walletKeyId]);
  const [remotes, setRemotes] = useState<RemoteChannel[]>();
  const [tick, setTick] = useState(0);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [deposit, setDeposit] = useState("500");
  const [budget, setBudget] = useState("");
  const [cap, setCap] = useState("");
  const [selected, setSelected] = useState<string>();

  const reload = useCallback(() => {
    setTick((t) => t + 1);
    app.refreshBalance();
  }, [app]);

  useEffect(() => {
    if (!payer) return;
    payer.remotes().then(setRemotes).catch((e) => setError(explain(e)));
  }, [payer, tick]);

  const run = (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    work().catch((e) => setError(explain(e))).finally(() => { setBusy(false); reload(); });
  };

  if (!payer) {
    return <section className="card"><h2>Channels</h2><p>Paying from a channel needs a wallet in this browser: sign out, then create or import one.</p></section>;
  }
  const local = payer.book.all();
  const publicKey = app.secret ? secp256k1.getPublicKey(app.secret, true) : undefined;
  const remoteOf = (id: string) => remotes?.find((r) => r.id === id);
  const shown = local.find((c) => c.id === selected) ?? local[0];
  const elsewhere = (remotes ?? []).filter((r) => !local.some((c) => c.id === r.id));

  return (
    <>
      <section className="card" aria-label="Open a channel">
        <h2>Open a ledger channel</h2>
        <p className="hint">Points move from your balance into the channel's escrow. Each answer is paid by receipts your wallet signs here; closing returns what was not spent.</p>
        {!app.secret ? <UnlockWallet /> : (
          <form className="row" onSubmit={(e) => {
            e.preventDefault();
            run(() => payer.open({ deposit: BigInt(deposit || "0"), budget: budget ? BigInt(budget) : undefined, maxPerMessage: cap ? BigInt(cap) : undefined }, app.secret!));
          }}>
            <label>Deposit (points)<input inputMode="numeric" value={deposit} onChange={(e) => setDeposit(digits(e.target.value))} /></label>
            <label>Budget (default: the deposit)<input inputMode="numeric" value={budget} onChange={(e) => setBudget(digits(e.target.value))} /></label>
            <label>Cap per message (optional)<input inputMode="numeric" value={cap} onChange={(e) => setCap(digits(e.target.value))} /></label>
            <button type="submit" disabled={busy || !deposit || deposit === "0"}>{busy ? "Working…" : "Open channel"}</button>
          </form>
        )}
        <p className="hint">Points available: <strong>{points(app.balance?.available)}</strong></p>
        {error && <p role="alert" className="error">{error}</p>}
      </section>

      <section className="card" aria-label="Your channels">
        <h2>Your ledger channels</h2>
        {remotes === undefined && !error ? <p className="muted">Loading…</p> : local.length === 0 ? <p className="empty">No channel yet: open one above.</p> : (
          <div className="table-wrap">
            <table data-testid="channels">
              <thead><tr><th>Channel</th><th>Opened</th><th className="num">Deposit</th><th className="num">Signed</th><th className="num">Accepted</th><th className="num">Claimed</th><th>State</th><th /></tr></thead>
              <tbody>
                {local.map((c) => <ChannelRow key={c.id} record={c} remote={remoteOf(c.id)} busy={busy} selected={c.id === shown?.id}
                  onSelect={() => setSelected(c.id)} onClose={publicKey ? () => run(() => payer.close(c, publicKey)) : undefined} />)}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {shown && <ReceiptLog record={shown} remote={remoteOf(shown.id)} payer={payer} />}
      {elsewhere.length > 0 && (
        <section className="card" aria-label="Channels opened elsewhere">
          <h2>Channels of this account opened elsewhere</h2>
          <p className="hint">Opened from another browser or the CLI with another key: this page cannot sign for them.</p>
          <ul>{elsewhere.map((r) => <li key={r.id}><code>{short(r.id)}</code>: {points(r.collateral)} deposit, {points(r.owed)} owed, {r.open ? "open" : "closed"}</li>)}</ul>
        </section>
      )}
      <CkbChannels />
    </>
  );
}

function ChannelRow(props: { record: ChannelRecord; remote?: RemoteChannel; busy: boolean; selected: boolean; onSelect: () => void; onClose?: () => void }) {
  const { record, remote } = props;
  const open = remote ? remote.open : record.open;
  return (
    <tr className={props.selected ? "selected" : undefined}>
      <td><button className="link" onClick={props.onSelect} aria-pressed={props.selected}><code title={record.id}>{short(record.id)}</code></button></td>
      <td>{when(record.openedAt)}</td>
      <td className="num">{points(record.deposit)}</td>
      <td className="num">{points(signedTotal(record))}</td>
      <td className="num">{points(remote?.owed ?? record.acceptedTotal)}</td>
      <td className="num">{points(remote?.claimed)}</td>
      <td>{open ? <span className="ok">open</span> : <span className="muted">closed{remote ? `, ${points(remote.refunded)} refunded` : ""}</span>}</td>
      <td>{open && (props.onClose ? <button className="secondary" disabled={props.busy} onClick={props.onClose}>Close</button> : <span className="hint">unlock to close</span>)}</td>
    </tr>
  );
}

function ReceiptLog(props: { record: ChannelRecord; remote?: RemoteChannel; payer: LedgerChannels }) {
  const log = props.payer.book.log(props.record.id).slice().reverse().slice(0, 20);
  const sub = props.remote?.subs.find((s) => s.sub_channel === props.record.subChannel);
  return (
    <section className="card" aria-label="Latest receipts">
      <h2>Channel <code>{short(props.record.id)}</code></h2>
      <dl className="facts wide">
        <dt>Budget</dt><dd>{points(props.record.budget)}</dd>
        <dt>Cap per message</dt><dd>{props.record.maxPerMessage ? points(props.record.maxPerMessage) : "from each message's max tokens"}</dd>
        <dt>Prices pinned at opening</dt><dd>{props.record.prices.map((p) => `${p.model}: ${p.input_per_1k} in / ${p.output_per_1k} out per 1k tokens`).join("; ") || "none"}</dd>
        <dt>Payee's latest accepted receipt</dt><dd>{sub ? `#${sub.nonce}, total ${points(sub.accumulated)}, ${points(sub.claimed)} claimed` : "—"}</dd>
        <dt>Payee's open proposal</dt><dd>{sub?.pending ? "one, waiting for a signature" : "none"}</dd>
      </dl>
      <h3>Latest receipts signed here</h3>
      {log.length === 0 ? <p className="empty">No receipt signed on it yet.</p> : (
        <div className="table-wrap">
          <table>
            <thead><tr><th>#</th><th className="num">Amount</th><th className="num">Total</th><th>Accepted</th><th>When</th></tr></thead>
            <tbody>{log.map((r) => (
              <tr key={r.nonce}><td>{r.nonce}</td><td className="num">+{points(r.amount)}</td><td className="num">{points(r.total)}</td>
                <td>{r.accepted === true ? <span className="ok">✓</span> : r.accepted === false ? <span className="muted">not yet</span> : <span className="bad">{r.accepted}</span>}</td><td>{when(r.at)}</td></tr>
            ))}</tbody>
          </table>
        </div>
      )}
    </section>
  );
}
