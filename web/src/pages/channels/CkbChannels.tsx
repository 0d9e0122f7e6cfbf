// CKB Spilman channels on chain, from this browser (docs/web-ckb.md): the
// buyer's node, the seller's terms, an offer checked before anything is
// signed, the funding signed here with the wallet key, the channel watched
// until the seller sees it active, and each channel's state, receipts,
// refund (shown and downloadable) and settlement.
import { useCallback, useEffect, useMemo, useState } from "react";
import { useApp } from "../../app/context";
import { ApiError } from "../../lib/api";
import { CkbPayer, type CkbInfo, type RemoteCkbChannel, type ReviewedOffer } from "../../lib/ckb/payer";
import { unhex } from "../../lib/ckb/record";
import { short } from "../../lib/format";
import { secp256k1 } from "@noble/curves/secp256k1";
import { UnlockWallet } from "../chat/UnlockWallet";
import { CkbChannelDetail } from "./CkbChannelDetail";
import { ckb, explainCkb, parseCkb, STATE_WORDS } from "./ckbWords";

/** The node a new browser starts with: a local node on CKB's default RPC port. */
export const DEFAULT_NODE = "http://127.0.0.1:8114";

export function CkbChannels() {
  const app = useApp();
  if (!app.walletKeyId) {
    return (
      <section className="card" aria-label="CKB channels">
        <h2>CKB channels</h2>
        <p>A CKB channel is funded and signed by a wallet in this browser: sign out, then create or import one.</p>
      </section>
    );
  }
  return <CkbSection walletKeyId={app.walletKeyId} />;
}

function CkbSection({ walletKeyId }: { walletKeyId: string }) {
  const app = useApp();
  // No node is called until the person names one (a default that is not running would only fail).
  const [rpcUrl, setRpcUrl] = useState(() => new CkbPayer(app.apiKey, walletKeyId, DEFAULT_NODE).book.rpcUrl());
  const [nodeField, setNodeField] = useState(rpcUrl ?? DEFAULT_NODE);
  const payer = useMemo(() => new CkbPayer(app.apiKey, walletKeyId, rpcUrl ?? DEFAULT_NODE), [app.apiKey, walletKeyId, rpcUrl]);
  const [info, setInfo] = useState<CkbInfo>();
  const [infoError, setInfoError] = useState<unknown>();
  const [remotes, setRemotes] = useState<RemoteCkbChannel[]>();
  const [tip, setTip] = useState<bigint>();
  const [wallet, setWallet] = useState<bigint>();
  const [nodeError, setNodeError] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [deposit, setDeposit] = useState("200");
  const [minutes, setMinutes] = useState("60");
  const [review, setReview] = useState<ReviewedOffer>();
  const [selected, setSelected] = useState<string>();
  const [tick, setTick] = useState(0);
  const reload = useCallback(() => setTick((t) => t + 1), []);

  useEffect(() => {
    payer.info().then((i) => { setInfo(i); setInfoError(undefined); }).catch(setInfoError);
  }, [payer]);

  useEffect(() => {
    if (!info) return;
    let live = true;
    payer.remotes().then((r) => live && setRemotes(r)).catch((e) => live && setError(explainCkb(e)));
    if (rpcUrl === undefined) return () => { live = false; };
    payer.node.tip()
      .then(async (t) => {
        const balance = await payer.node.lockScripts().then((s) => payer.node.balance({ codeHash: s.sighash.codeHash, hashType: s.sighash.hashType, args: unhex(walletKeyId) }));
        if (!live) return;
        setTip(t);
        setWallet(balance);
        setNodeError(undefined);
      })
      .catch((e) => live && setNodeError(explainCkb(e)));
    return () => { live = false; };
  }, [payer, info, tick, walletKeyId, rpcUrl]);

  // Watch while something is moving: a funding confirming, a settlement.
  const moving = (remotes ?? []).some((r) => ["proposed", "refund_signed", "funding", "settling", "settling_after_expiry", "refunding"].includes(r.state));
  useEffect(() => {
    const timer = setInterval(reload, moving ? 2_000 : 10_000);
    return () => clearInterval(timer);
  }, [moving, reload]);

  const run = (what: string, work: () => Promise<unknown>) => {
    setBusy(what);
    setError(undefined);
    work().catch((e) => setError(explainCkb(e))).finally(() => { setBusy(undefined); reload(); });
  };

  if (infoError) {
    const disabled = infoError instanceof ApiError && infoError.code === "ckb_disabled";
    return (
      <section className="card" aria-label="CKB channels">
        <h2>CKB channels</h2>
        {disabled ? <p className="empty">This server does not offer CKB channels. Ledger channels above work without a chain.</p>
          : <p role="alert" className="error">{explainCkb(infoError)} <button className="secondary" onClick={() => { setInfoError(undefined); setTick((t) => t + 1); payer.info().then(setInfo).catch(setInfoError); }}>Retry</button></p>}
      </section>
    );
  }

  const local = payer.book.all();
  const rows: { id: string; remote?: RemoteCkbChannel; here: boolean }[] = [
    ...local.map((c) => ({ id: c.id, remote: remotes?.find((r) => r.id === c.id), here: true })),
    ...(remotes ?? []).filter((r) => !local.some((c) => c.id === r.id) && r.state !== "proposed").map((r) => ({ id: r.id, remote: r, here: false })),
  ];
  const shown = rows.find((r) => r.id === selected) ?? rows.find((r) => r.here);
  const depositShannons = parseCkb(deposit);
  const durationSecs = /^\d{1,7}$/.test(minutes) ? BigInt(minutes) * 60n : undefined;
  const publicKey = app.secret ? secp256k1.getPublicKey(app.secret, true) : undefined;

  return (
    <>
      <section className="card" aria-label="Open a CKB channel">
        <h2>Open a CKB channel</h2>
        <p className="hint">
          A Spilman channel on the CKB chain: your CKB and the seller's go into a cell only both keys can spend. Your wallet signs the funding here;
          before that, the seller signs a refund that returns your deposit after the expiry, so your money can always come back.
        </p>
        <form className="row" onSubmit={(e) => { e.preventDefault(); payer.book.setRpcUrl(nodeField.trim()); setRpcUrl(nodeField.trim()); }}>
          <label>Your CKB node (JSON-RPC with the indexer)<input value={nodeField} onChange={(e) => setNodeField(e.target.value)} spellCheck={false} /></label>
          <button type="submit" className="secondary" disabled={!nodeField.trim() || nodeField.trim() === rpcUrl}>Use this node</button>
        </form>
        <dl className="facts wide">
          <dt>Your wallet's lock args</dt><dd><code className="wrap" data-testid="ckb-lock-args" title="The args of your wallet's secp256k1-blake160 lock: send CKB to this lock to fund channels">{walletKeyId}</code></dd>
          {!nodeError && rpcUrl && <><dt>It holds</dt><dd data-testid="ckb-wallet-balance">{wallet === undefined ? "Loading…" : ckb(wallet)}</dd></>}
          {!nodeError && rpcUrl && <><dt>Latest block</dt><dd data-testid="ckb-tip">{tip === undefined ? "…" : tip.toString()}</dd></>}
        </dl>
        {rpcUrl === undefined && <p className="notice">Name your CKB node (its JSON-RPC with the indexer enabled) and press “Use this node”: the page reads your wallet's cells and the chain from it, never from the seller.</p>}
        {nodeError && <p role="alert" className="error">{nodeError}</p>}
        {info && (
          <p className="hint" data-testid="ckb-seller-terms">
            The seller adds {ckb(info.cofund)}, each closing costs {ckb(info.commitment_fee)}, durations from {Math.ceil(info.min_duration_secs / 60)} to {Math.floor(info.max_duration_secs / 60)} minutes,
            active after {info.funding_confirmations} confirmation{info.funding_confirmations === 1 ? "" : "s"}.
          </p>
        )}
        {!app.secret ? <UnlockWallet /> : !review ? (
          <form className="row" onSubmit={(e) => {
            e.preventDefault();
            if (!depositShannons || !durationSecs || !publicKey) return;
            run("offer", async () => setReview(await payer.review({ deposit: depositShannons, durationSecs }, publicKey)));
          }}>
            <label>Deposit (CKB)<input inputMode="decimal" value={deposit} onChange={(e) => setDeposit(e.target.value)} aria-invalid={!depositShannons} /></label>
            <label>Duration (minutes)<input inputMode="numeric" value={minutes} onChange={(e) => setMinutes(e.target.value.replace(/[^0-9]/g, ""))} /></label>
            <button type="submit" disabled={!!busy || !depositShannons || !durationSecs || !info || !rpcUrl}>{busy === "offer" ? "Checking the offer…" : "Get an offer"}</button>
          </form>
        ) : (
          <OfferReview review={review} busy={busy} onCancel={() => setReview(undefined)} onSign={() => run("open", async () => {
            const record = await payer.open(review, app.secret!);
            setReview(undefined);
            setSelected(record.id);
          })} />
        )}
        {error && <p role="alert" className="error">{error}</p>}
      </section>

      <section className="card" aria-label="Your CKB channels">
        <h2>Your CKB channels</h2>
        {remotes === undefined && !error ? <p className="muted">Loading…</p> : rows.length === 0 ? <p className="empty">No CKB channel yet: open one above.</p> : (
          <div className="table-wrap">
            <table data-testid="ckb-channels">
              <thead><tr><th>Channel</th><th>State</th><th className="num">Deposit</th><th className="num">Paid</th></tr></thead>
              <tbody>
                {rows.map((r) => {
                  const record = payer.book.get(r.id);
                  return (
                    <tr key={r.id} className={r.id === shown?.id ? "selected" : undefined}>
                      <td><button className="link" onClick={() => setSelected(r.id)} aria-pressed={r.id === shown?.id}><code title={r.id} style={{ whiteSpace: "nowrap" }}>{short(r.id, 4)}</code></button>{!r.here && <span className="hint"> (opened elsewhere)</span>}</td>
                      <td data-testid="ckb-state">{r.remote ? STATE_WORDS[r.remote.state] ?? r.remote.state : "…"}</td>
                      <td className="num">{ckb(r.remote?.deposit ?? record?.buyerDeposit)}</td>
                      <td className="num">{ckb(r.remote?.paid)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {shown && <CkbChannelDetail key={shown.id} payer={payer} id={shown.id} remote={shown.remote} info={info} tip={tip} onChange={reload} />}
    </>
  );
}

function OfferReview(props: { review: ReviewedOffer; busy?: string; onSign: () => void; onCancel: () => void }) {
  const r = props.review;
  const blocks = r.expiryBlock - r.tip;
  return (
    <div className="notice" aria-label="The seller's offer" data-testid="ckb-offer">
      <h3>The seller's offer, checked</h3>
      <dl className="facts wide">
        <dt>You put in</dt><dd>{ckb(r.request.deposit)} (61 CKB of it comes back as your change cell at the close)</dd>
        <dt>The seller adds</dt><dd>{ckb(r.cofund)}</dd>
        <dt>The channel can pay at most</dt><dd data-testid="ckb-offer-max">{ckb(r.maxPayment)}</dd>
        <dt>Refund valid from</dt><dd>block {r.expiryBlock.toString()} ({blocks.toString()} blocks from your node's tip {r.tip.toString()}; at most {r.latestExpiry.toString()} accepted)</dd>
        <dt>Funding fee</dt><dd>{ckb(r.fundingFee)} at {r.feeRate.toString()} shannons per 1,000 bytes (at most {r.maxFeeRate.toString()} accepted)</dd>
        <dt>Closing fee</dt><dd>{ckb(r.commitmentFee)}; with the funding fee {ckb(r.fundingFee + r.commitmentFee)}, at most {ckb(r.maxFee)} accepted</dd>
        <dt>Spent from your wallet</dt><dd>{r.plan.buyerCells.length} cell{r.plan.buyerCells.length === 1 ? "" : "s"}; the rest comes back as change</dd>
      </dl>
      <p className="hint" style={{ marginTop: "0.75rem" }}>
        Checked before signing: the expiry is after your node's tip and within the duration you asked for (at {r.blockIntervalSecs.toString()} s a block, measured on your node);
        the fee rate and the fees are within your limits; the seller's cells are live on your node under its own key; the channel cell is the 2-of-2 of your key and the seller's.
        Next, the seller signs your refund; only then does your wallet sign the funding, here.
      </p>
      <div className="row">
        <button onClick={props.onSign} disabled={!!props.busy}>{props.busy === "open" ? "Signing and sending…" : "Sign the funding and open"}</button>
        <button className="secondary" onClick={props.onCancel} disabled={!!props.busy}>Cancel</button>
      </div>
    </div>
  );
}
