// The checkout's first step (`#/pay`), open to anyone: a product or an
// amount, then the network and the token, then `POST /api/v1/payments`.
// A signed-in buyer names themself (`user`, with the session's key) so the
// product's points go to them; an anonymous buyer sends no user and no
// key. The new payment opens at `#/pay/<id>`.
import { useContext, useState } from "react";
import { AppContext } from "../../app/context";
import { call } from "../../lib/api";
import { AMOUNT_PROBLEMS, parseAmount } from "../../lib/checkout/amount";
import type { Network, PaymentView, Product, Token } from "../../lib/checkout/types";
import { failureText } from "../../lib/checkout/words";
import { points } from "../../lib/format";
import { Loading } from "../common/Status";
import { useAction } from "../common/useAction";
import { useLoad } from "../common/useLoad";

const CUSTOM = "custom";

interface Catalog {
  products: Product[];
  tokens: Token[];
  networks: Network[];
}

async function loadCatalog(): Promise<Catalog> {
  const [products, tokens, networks] = await Promise.all([
    call<Product[]>("GET", "/api/v1/products"),
    call<Token[]>("GET", "/api/v1/tokens"),
    call<Network[]>("GET", "/api/v1/networks"),
  ]);
  const live = networks.filter((n) => n.is_active);
  return { products, networks: live, tokens: tokens.filter((t) => t.is_active && live.some((n) => n.id === t.network)) };
}

/** Product, amount, network and token; creates the payment. */
export function CheckoutForm() {
  const app = useContext(AppContext);
  const catalog = useLoad(loadCatalog, []);
  const [choice, setChoice] = useState<string>();
  const [custom, setCustom] = useState("");
  const [networkId, setNetworkId] = useState<string>();
  const [symbol, setSymbol] = useState<string>();
  const create = useAction<PaymentView>();

  if (catalog.error !== undefined) {
    return <p role="alert" className="error">{failureText(catalog.error)} <button className="quiet" onClick={catalog.reload}>Retry</button></p>;
  }
  if (!catalog.data) return <Loading what="what is for sale" />;
  const { products, tokens, networks } = catalog.data;
  if (networks.length === 0 || tokens.length === 0) return <p className="empty">Payments in stablecoins are not offered on this server right now.</p>;

  const picked = choice ?? products[0]?.id ?? CUSTOM;
  const product = products.find((p) => p.id === picked);
  const network = networks.find((n) => n.id === networkId) ?? networks[0];
  const offered = tokens.filter((t) => t.network === network.id);
  const token = offered.find((t) => t.symbol === symbol) ?? offered.find((t) => t.symbol === "USDT") ?? offered[0];
  const amount = picked === CUSTOM ? parseAmount(custom, token?.decimals ?? 0) : undefined;
  const ready = token !== undefined && (product !== undefined || amount?.ok === true) && !create.busy;

  const submit = () => create.run(async () => {
    if (!token) throw new Error("Choose a token.");
    const what = product ? { product_id: product.id } : amount?.ok ? { amount: amount.text } : undefined;
    if (!what) throw new Error("Choose a product or type an amount.");
    const view = await call<PaymentView>("POST", "/api/v1/payments", {
      ...what,
      token: token.symbol,
      network: network.id,
      ...(app ? { user: app.me.handle } : {}),
    }, app?.apiKey);
    window.location.hash = `#/pay/${view.id}`;
    return view;
  });

  return (
    <form className="card checkout" aria-label="Buy points" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
      <h2>Buy points with stablecoins</h2>
      <fieldset className="choices">
        <legend>1. What you buy</legend>
        {products.map((p) => (
          <label key={p.id} className="choice">
            <input type="radio" name="product" value={p.id} checked={picked === p.id} onChange={() => setChoice(p.id)} />
            <span className="choice-name">{p.name}<span className="hint">{p.description}</span></span>
            <span className="choice-price">{p.price} {p.currency}<span className="hint">{points(p.points)} points</span></span>
          </label>
        ))}
        <label className="choice">
          <input type="radio" name="product" value={CUSTOM} checked={picked === CUSTOM} onChange={() => setChoice(CUSTOM)} />
          <span className="choice-name">Another amount<span className="hint">Any amount you choose</span></span>
        </label>
        {picked === CUSTOM && (
          <label>Amount{token && ` in ${token.symbol}`}
            <input value={custom} onChange={(e) => setCustom(e.target.value)} inputMode="decimal" placeholder="10.00" autoFocus />
            {amount && !amount.ok && custom && <span className="hint bad">{AMOUNT_PROBLEMS[amount.problem]}</span>}
          </label>
        )}
      </fieldset>
      <fieldset className="row">
        <legend>2. Pay with</legend>
        <label>Network
          <select value={network.id} onChange={(e) => setNetworkId(e.target.value)}>
            {networks.map((n) => <option key={n.id} value={n.id}>{n.name} (chain {n.chain_id})</option>)}
          </select>
        </label>
        <label>Token
          <select value={token?.symbol ?? ""} onChange={(e) => setSymbol(e.target.value)}>
            {offered.map((t) => <option key={t.symbol} value={t.symbol}>{t.symbol} — {t.name}</option>)}
          </select>
        </label>
      </fieldset>
      {token && <p className="hint">Contract <code>{token.contract_address}</code> on {network.name}; {network.confirmations} confirmations count a transfer as paid.</p>}
      {product && (app
        ? <p className="notice">The {points(product.points)} points go to <strong>{app.me.handle}</strong> once the payment is confirmed.</p>
        : <p className="notice">You are not signed in: this payment credits no points to anyone. <a href="#/chat">Sign in</a> first to collect them.</p>)}
      {create.error !== undefined && <p role="alert" className="error">{failureText(create.error)}</p>}
      <button type="submit" disabled={!ready}>{create.busy ? "Creating the payment…" : "Continue to payment"}</button>
      <p className="hint">The next page shows the exact amount to send: the price plus a tiny offset in the last digits that tells your transfer apart from others.</p>
    </form>
  );
}
