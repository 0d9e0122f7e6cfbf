// Admin: the points calculator (seed 004) — model and tokens to the cost
// the server would charge now (its own estimate, rounded up as it charges).
import { useEffect, useState } from "react";
import { useApp } from "../../app/context";
import { points } from "../../lib/format";
import { ErrorBox } from "../common/Status";
import type { Estimate } from "../common/types";
import { useAction } from "../common/useAction";

const whole = (text: string) => /^\d{1,9}$/.test(text);

export function Calculator(props: { models: string[]; tick: number }) {
  const app = useApp();
  const [model, setModel] = useState("");
  const [input, setInput] = useState("1000");
  const [output, setOutput] = useState("1000");
  const calc = useAction<Estimate>();
  const chosen = model || props.models[0] || "";
  const ok = chosen !== "" && whole(input) && whole(output);
  // A price change makes the last answer stale.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  useEffect(() => calc.clear(), [props.tick]);

  const onCalc = () => calc.run(() => {
    const q = new URLSearchParams({ model: chosen, input_tokens: input, output_tokens: output });
    return app.api<Estimate>("GET", `/api/user/points/estimate?${q}`);
  });

  return (
    <section className="card" aria-label="Points calculator">
      <h2>Points calculator</h2>
      <form className="row" onSubmit={(e) => { e.preventDefault(); void onCalc(); }}>
        <label>Model
          {props.models.length ? (
            <select value={chosen} onChange={(e) => setModel(e.target.value)}>{props.models.map((m) => <option key={m}>{m}</option>)}</select>
          ) : <input value={model} onChange={(e) => setModel(e.target.value)} placeholder="model" />}
        </label>
        <label>Input tokens<input inputMode="numeric" value={input} onChange={(e) => setInput(e.target.value.trim())} /></label>
        <label>Output tokens<input inputMode="numeric" value={output} onChange={(e) => setOutput(e.target.value.trim())} /></label>
        <button type="submit" disabled={calc.busy || !ok}>{calc.busy ? "Calculating…" : "Calculate"}</button>
      </form>
      {calc.error !== undefined && <ErrorBox error={calc.error} />}
      {calc.result && (
        <p className="notice" data-testid="calc-result">
          <strong data-testid="calc-cost">{points(calc.result.estimated_cost)}</strong> points, by rule <code>{calc.result.rule}</code> version {calc.result.price_version}
          {" "}({calc.result.input_per_1k} in / {calc.result.output_per_1k} out per 1,000 tokens; rounded up to a whole point).
        </p>
      )}
    </section>
  );
}
