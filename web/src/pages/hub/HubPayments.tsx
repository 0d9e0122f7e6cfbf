// The wallet's payments through the hub, sent and received (newest
// first), and a party's balance at the hub.
import { useEffect, useState } from "react";
import { call } from "../../lib/api";
import { ckb, short, when } from "../../lib/format";
import { explainHub, HUB_STATE } from "./hubWords";
import type { HubBalance, HubPayment } from "./types";

export function HubPayments({ title, path, tick, testId }: { title: string; path: string; tick: number; testId: string }) {
  const [rows, setRows] = useState<HubPayment[]>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    call<{ payments: HubPayment[] }>("GET", `${path}?limit=20`)
      .then((r) => { if (live) { setRows(r.payments); setError(undefined); } })
      .catch((e) => live && setError(explainHub(e)));
    return () => { live = false; };
  }, [path, tick]);
  return (
    <section className="card" aria-label={title}>
      <h2>{title}</h2>
      {error && <p role="alert" className="error">{error}</p>}
      {rows === undefined ? <p className="hint">Loading…</p> : rows.length === 0 ? <p className="empty">None yet.</p> : (
        <ul className="hub-list" data-testid={testId}>
          {rows.map((p) => (
            <li key={p.payment_id} data-state={p.state} data-amount={p.amount}>
              <span className="hub-amount">{ckb(p.amount)}</span>
              <span className={`hub-pill ${p.state}`}>{HUB_STATE[p.state] ?? p.state}</span>
              <span className="hint">#{p.payment_id} · {when(p.created_at)}</span>
              <span className="hub-party">{testId === "hub-sent" ? "to" : "from"} <code title={testId === "hub-sent" ? p.receiver : p.sender}>{short(testId === "hub-sent" ? p.receiver : p.sender, 10)}</code></span>
              <span className="hint">fee {ckb(p.fee)}{p.points ? ` · ${p.points} points` : ""}{p.block_number !== null ? ` · block ${p.block_number}` : ""}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function HubBalanceFacts({ address, tick, testId }: { address: string; tick: number; testId: string }) {
  const [b, setB] = useState<HubBalance>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    let live = true;
    setError(undefined);
    call<HubBalance>("GET", `/api/hub/balance/${encodeURIComponent(address)}`)
      .then((v) => live && setB(v))
      .catch((e) => { if (live) { setB(undefined); setError(explainHub(e)); } });
    return () => { live = false; };
  }, [address, tick]);
  if (error) return <p role="alert" className="error">{error}</p>;
  return (
    <dl className="facts wide" data-testid={testId} data-unpaid={b?.unpaid}>
      <dt>Unpaid (held by the hub)</dt><dd>{b ? ckb(b.unpaid) : "…"}</dd>
      <dt>In a payout</dt><dd>{b ? ckb(b.in_payout) : "…"}</dd>
      <dt>Paid out on chain</dt><dd>{b ? ckb(b.paid) : "…"}</dd>
    </dl>
  );
}

export function BalanceLookup({ tick }: { tick: number }) {
  const [field, setField] = useState("");
  const [address, setAddress] = useState<string>();
  return (
    <section className="card" aria-label="A balance at the hub">
      <h2>Any address's balance at the hub</h2>
      <form className="hub-form" onSubmit={(e) => { e.preventDefault(); setAddress(field.trim() || undefined); }}>
        <label>CKB address or lock args<input value={field} onChange={(e) => setField(e.target.value)} spellCheck={false} data-testid="hub-lookup" /></label>
        <button type="submit" className="secondary" disabled={!field.trim()}>Show</button>
      </form>
      {address && <HubBalanceFacts address={address} tick={tick} testId="hub-lookup-balance" />}
    </section>
  );
}
