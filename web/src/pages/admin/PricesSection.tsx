// Admin: model prices — each model's latest version, a new price (a new
// version), a withdrawal (an inactive version; history kept), a model's
// every version, and the points calculator.
import { useState } from "react";
import { useApp } from "../../app/context";
import { when } from "../../lib/format";
import { ErrorBox, Show } from "../common/Status";
import type { RuleView } from "../common/types";
import { useAction } from "../common/useAction";
import { useLoad } from "../common/useLoad";
import { Calculator } from "./Calculator";
import { PriceForm } from "./PriceForm";
import { PriceHistory } from "./PriceHistory";

export function PricesSection() {
  const app = useApp();
  const [tick, setTick] = useState(0);
  const rules = useLoad(() => app.api<RuleView[]>("GET", "/api/admin/models"), [app.apiKey, tick]);
  const [shown, setShown] = useState<string>();
  const [confirm, setConfirm] = useState<string>();
  const withdraw = useAction<RuleView>();
  const changed = () => setTick((t) => t + 1);

  const onWithdraw = (model: string) => withdraw.run(async () => {
    const rule = await app.api<RuleView>("DELETE", `/api/admin/models/${encodeURIComponent(model)}`);
    setConfirm(undefined);
    changed();
    return rule;
  });

  return (
    <>
      <section className="card" aria-label="Model prices">
        <h2>Model prices</h2>
        <p className="hint">Points per 1,000 tokens. A change is a new version; calls already priced keep theirs.</p>
        {withdraw.error !== undefined && <ErrorBox error={withdraw.error} />}
        <Show state={rules} what="prices" empty={(r) => (r.length === 0 ? "No model has a price yet: set one below." : undefined)}>
          {(list) => (
            <div className="table-wrap">
              <table data-testid="prices">
                <thead><tr><th>Model</th><th className="num">Version</th><th className="num">Input</th><th className="num">Output</th><th>State</th><th>Since</th><th>Note</th><th>Actions</th></tr></thead>
                <tbody>
                  {list.map((r) => (
                    <tr key={r.model} data-model={r.model}>
                      <td>{r.model}</td>
                      <td className="num">{r.version}</td>
                      <td className="num">{r.input_per_1k}</td>
                      <td className="num">{r.output_per_1k}</td>
                      <td className={r.active ? "ok" : "muted"}>{r.active ? "active" : "withdrawn"}</td>
                      <td>{when(r.effective_from)}</td>
                      <td>{r.note || "—"}</td>
                      <td className="actions">
                        <button className="quiet" onClick={() => setShown(shown === r.model ? undefined : r.model)}>{shown === r.model ? "Hide history" : "History"}</button>
                        {r.active && (confirm === r.model ? (
                          <button className="danger" disabled={withdraw.busy} onClick={() => void onWithdraw(r.model)}>Confirm withdraw</button>
                        ) : <button className="quiet" onClick={() => setConfirm(r.model)}>Withdraw</button>)}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Show>
      </section>
      {shown && <PriceHistory model={shown} tick={tick} />}
      <PriceForm onSaved={(model) => { changed(); setShown(model); }} />
      <Calculator models={rules.data?.filter((r) => r.active).map((r) => r.model) ?? []} tick={tick} />
    </>
  );
}
