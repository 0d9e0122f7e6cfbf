// Every version of one model's price, newest first.
import { useApp } from "../../app/context";
import { when } from "../../lib/format";
import { Show } from "../common/Status";
import type { RuleView } from "../common/types";
import { useLoad } from "../common/useLoad";

export function PriceHistory(props: { model: string; tick: number }) {
  const app = useApp();
  const history = useLoad(
    () => app.api<RuleView[]>("GET", `/api/admin/models/${encodeURIComponent(props.model)}/history`).then((h) => [...h].sort((a, b) => b.version - a.version)),
    [app.apiKey, props.model, props.tick],
  );
  return (
    <section className="card" aria-label={`Price history of ${props.model}`}>
      <h2>Price history: {props.model}</h2>
      <Show state={history} what="the history" empty={(h) => (h.length === 0 ? "This model has no versions." : undefined)}>
        {(list) => (
          <div className="table-wrap">
            <table data-testid="price-history">
              <thead><tr><th className="num">Version</th><th className="num">Input</th><th className="num">Output</th><th>State</th><th>Effective from</th><th>Set at</th><th>By</th><th>Note</th></tr></thead>
              <tbody>
                {list.map((r) => (
                  <tr key={r.version}>
                    <td className="num">{r.version}</td>
                    <td className="num">{r.input_per_1k}</td>
                    <td className="num">{r.output_per_1k}</td>
                    <td className={r.active ? "ok" : "muted"}>{r.active ? "active" : "withdrawn"}</td>
                    <td>{when(r.effective_from)}</td>
                    <td>{when(r.created_at)}</td>
                    <td>{r.changed_by === null ? "CLI" : `#${r.changed_by}`}</td>
                    <td>{r.note || "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Show>
    </section>
  );
}
