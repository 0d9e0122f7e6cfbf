// Before a call: pick a model and the tokens expected, and see what it
// will cost (the server's own estimate) and whether the balance lets it
// go ahead (check-balance, without reserving anything).
import { useState } from "react";
import { useApp } from "../../app/context";
import { points } from "../../lib/format";
import type { PriceList } from "../../lib/price";
import { ErrorBox } from "../common/Status";
import type { CheckBalance, Estimate } from "../common/types";
import { useLoad } from "../common/useLoad";

const REASONS: Record<string, string> = {
  insufficient_points: "Not enough points available",
  arrears_outstanding: "Arrears must be repaid first",
};

const whole = (text: string) => /^\d{1,9}$/.test(text);

export function EstimateCard() {
  const app = useApp();
  const prices = useLoad(() => app.api<PriceList>("GET", "/api/prices"), [app.apiKey]);
  const [model, setModel] = useState("");
  const [input, setInput] = useState("1000");
  const [output, setOutput] = useState("500");
  const [answer, setAnswer] = useState<{ estimate: Estimate; check: CheckBalance }>();
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const models = (prices.data?.prices ?? []).map((p) => p.model).filter((m) => m !== "*");
  const chosen = model || models[0] || "";
  const valid = chosen !== "" && whole(input) && whole(output);
  /** A changed question: the last refusal no longer applies. */
  const edit = (set: (v: string) => void) => (v: string) => { set(v); setError(undefined); };

  const run = async () => {
    setBusy(true);
    setError(undefined);
    setAnswer(undefined);
    try {
      const q = new URLSearchParams({ model: chosen, input_tokens: input, output_tokens: output });
      const estimate = await app.api<Estimate>("GET", `/api/user/points/estimate?${q}`);
      const check = await app.api<CheckBalance>("POST", "/api/user/points/check-balance", { model: chosen, input_tokens: Number(input), output_tokens: Number(output) });
      setAnswer({ estimate, check });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-label="Estimate a call">
      <h2>Estimate a call</h2>
      <p className="hint">What a call will cost at today's prices, and whether your points cover it, before you send it.</p>
      {prices.error !== undefined && <ErrorBox error={prices.error} retry={prices.reload} />}
      <form className="row" onSubmit={(e) => { e.preventDefault(); if (valid) void run(); }}>
        <label>Model
          {models.length ? (
            <select value={chosen} onChange={(e) => edit(setModel)(e.target.value)}>
              {models.map((m) => <option key={m}>{m}</option>)}
            </select>
          ) : <input value={model} onChange={(e) => setModel(e.target.value)} placeholder={prices.loading ? "Loading models…" : "model name"} />}
        </label>
        <label>Input tokens<input inputMode="numeric" value={input} onChange={(e) => edit(setInput)(e.target.value.trim())} /></label>
        <label>Output tokens<input inputMode="numeric" value={output} onChange={(e) => edit(setOutput)(e.target.value.trim())} /></label>
        <button type="submit" disabled={busy || !valid}>{busy ? "Estimating…" : "Estimate"}</button>
      </form>
      {(!whole(input) || !whole(output)) && <p className="hint bad">Token counts are whole numbers (up to 9 digits).</p>}
      {error !== undefined && <ErrorBox error={error} />}
      {answer && (
        <div className="estimate" data-testid="estimate">
          <p className={answer.check.can_proceed ? "verdict ok" : "verdict bad"} data-testid="can-proceed">
            {answer.check.can_proceed ? "✓ Can proceed" : `✗ Cannot proceed: ${REASONS[answer.check.reason ?? ""] ?? answer.check.reason}`}
          </p>
          <dl className="figures">
            <div><dt>Estimated cost</dt><dd data-testid="estimate-cost">{points(answer.estimate.estimated_cost)}</dd><p className="hint">points, rounded up</p></div>
            <div><dt>Available</dt><dd>{points(answer.check.available)}</dd></div>
            {!answer.check.can_proceed && <div><dt>Top up at least</dt><dd className="bad" data-testid="estimate-shortfall">{points(answer.check.shortfall)}</dd></div>}
          </dl>
          <p className="hint">
            Priced by rule <code>{answer.estimate.rule}</code> version <span data-testid="estimate-version">{answer.estimate.price_version}</span>:
            {" "}{answer.estimate.input_per_1k} points per 1,000 input tokens, {answer.estimate.output_per_1k} per 1,000 output tokens.
          </p>
        </div>
      )}
    </section>
  );
}
