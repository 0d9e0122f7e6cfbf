// The CKB hub (`#/hub`, docs/web-ckb.md "Hub page"): pay any amount to a
// CKB address through the hub from the wallet of this browser (the key
// signs here, never leaves), the wallet's payments sent and received, and
// its balance at the hub.
import { useCallback, useEffect, useMemo, useState } from "react";
import { useApp } from "../app/context";
import { ApiError, call } from "../lib/api";
import { CkbBook, unhex } from "../lib/ckb/record";
import { CkbNode } from "../lib/ckb/rpc";
import { ckb } from "../lib/format";
import { DEFAULT_NODE } from "./channels/CkbChannels";
import { HubPayForm } from "./hub/HubPayForm";
import { BalanceLookup, HubBalanceFacts, HubPayments } from "./hub/HubPayments";
import { explainHub } from "./hub/hubWords";
import type { HubInfo } from "./hub/types";
import "./hub/hub.css";

export function HubPage() {
  const app = useApp();
  if (!app.walletKeyId) {
    return (
      <section className="card" aria-label="CKB hub">
        <h1>CKB hub</h1>
        <p>Paying through the hub is signed by a wallet in this browser: sign out, then create or import one.</p>
      </section>
    );
  }
  return <Hub walletKeyId={app.walletKeyId.toLowerCase()} />;
}

function Hub({ walletKeyId }: { walletKeyId: string }) {
  const book = useMemo(() => new CkbBook(walletKeyId), [walletKeyId]);
  const [rpcUrl, setRpcUrl] = useState(() => book.rpcUrl());
  const [nodeField, setNodeField] = useState(rpcUrl ?? DEFAULT_NODE);
  const [info, setInfo] = useState<HubInfo>();
  const [infoError, setInfoError] = useState<unknown>();
  const [held, setHeld] = useState<bigint>();
  const [nodeError, setNodeError] = useState<string>();
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    call<HubInfo>("GET", "/api/hub").then((i) => { setInfo(i); setInfoError(undefined); }).catch(setInfoError);
  }, []);

  useEffect(() => {
    const timer = setInterval(reload, 5_000);
    return () => clearInterval(timer);
  }, [reload]);

  useEffect(() => {
    if (!rpcUrl) return;
    let live = true;
    const node = new CkbNode(rpcUrl);
    node.lockScripts()
      .then((s) => node.balance({ codeHash: s.sighash.codeHash, hashType: s.sighash.hashType, args: unhex(walletKeyId) }))
      .then((b) => { if (live) { setHeld(b); setNodeError(undefined); } })
      .catch((e) => live && setNodeError(explainHub(e)));
    return () => { live = false; };
  }, [rpcUrl, walletKeyId, tick]);

  if (infoError) {
    const off = infoError instanceof ApiError && infoError.code === "hub_disabled";
    return (
      <section className="card" aria-label="CKB hub">
        <h1>CKB hub</h1>
        {off ? <p className="empty">This server does not run the CKB hub.</p>
          : <p role="alert" className="error">{explainHub(infoError)} <button className="secondary" onClick={() => { setInfoError(undefined); call<HubInfo>("GET", "/api/hub").then(setInfo).catch(setInfoError); }}>Retry</button></p>}
      </section>
    );
  }

  return (
    <div className="hub-page">
      <section className="card" aria-label="Your wallet at the hub">
        <h1>CKB hub</h1>
        <form className="hub-form" onSubmit={(e) => { e.preventDefault(); book.setRpcUrl(nodeField.trim()); setRpcUrl(nodeField.trim()); }}>
          <label>Your CKB node (JSON-RPC with the indexer)<input value={nodeField} onChange={(e) => setNodeField(e.target.value)} spellCheck={false} data-testid="hub-node" /></label>
          <button type="submit" className="secondary" disabled={!nodeField.trim() || nodeField.trim() === rpcUrl}>Use this node</button>
        </form>
        <dl className="facts wide">
          <dt>Your wallet's lock args</dt><dd><code className="wrap" data-testid="hub-lock-args">{walletKeyId}</code></dd>
          {rpcUrl && !nodeError && <><dt>It holds on chain</dt><dd data-testid="hub-wallet-held">{held === undefined ? "Loading…" : ckb(held)}</dd></>}
          {info && <><dt>The hub</dt><dd><code className="wrap" data-testid="hub-address">{info.hub_address}</code></dd></>}
          {info && <><dt>The hub's fee</dt><dd>{(info.fee_bps / 100).toString()} % of each payment; network fee rate {info.fee_rate} shannons per 1,000 bytes</dd></>}
          {info && <><dt>Free pool cells</dt><dd>{info.pool.free_cells}</dd></>}
          {info && <><dt>Buy points</dt><dd>pay the gateway, <code className="wrap">{info.gateway_address}</code></dd></>}
        </dl>
        {nodeError && <p role="alert" className="error">{nodeError}</p>}
        <h2>Your balance at the hub</h2>
        <p className="hint">What the hub holds for this wallet from payments it received; paid out on chain above the threshold.</p>
        <HubBalanceFacts address={walletKeyId} tick={tick} testId="hub-my-balance" />
      </section>
      {info ? <HubPayForm info={info} walletKeyId={walletKeyId} rpcUrl={rpcUrl} onChange={reload} /> : <p className="hint">Loading the hub's terms…</p>}
      <HubPayments title="Payments you sent" path={`/api/payment/sender/${walletKeyId}`} tick={tick} testId="hub-sent" />
      <HubPayments title="Payments you received" path={`/api/payment/receiver/${walletKeyId}`} tick={tick} testId="hub-received" />
      <BalanceLookup tick={tick} />
    </div>
  );
}
