// The points history: every grant, charge, hold and adjustment, newest
// first, filtered by kind, model and time; pages moved by the server's
// cursor; the same filter exported whole as CSV.
import { useState } from "react";
import { useApp } from "../../app/context";
import { fetchText, saveText } from "../../lib/download";
import { points, when } from "../../lib/format";
import { csvFileName, historyQuery, NO_FILTER, type HistoryFilter } from "../../lib/historyQuery";
import { ErrorBox, Show } from "../common/Status";
import type { HistoryPage } from "../common/types";
import { useLoad } from "../common/useLoad";
import { HistoryFilters } from "./HistoryFilters";

export const PAGE_SIZE = 10;

export function HistoryCard() {
  const app = useApp();
  const [filter, setFilter] = useState<HistoryFilter>(NO_FILTER);
  /** Cursors of the pages before this one; the last is this page's. */
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const page = useLoad(
    () => app.api<HistoryPage>("GET", `/api/user/points/history${historyQuery(filter, { cursor, limit: PAGE_SIZE })}`),
    [app.apiKey, filter, cursor, app.balance],
  );
  const [csvError, setCsvError] = useState<unknown>();
  const [csvBusy, setCsvBusy] = useState(false);

  const apply = (next: HistoryFilter) => {
    setFilter(next);
    setCursors([undefined]);
  };
  const download = async () => {
    setCsvBusy(true);
    setCsvError(undefined);
    try {
      const text = await fetchText(`/api/user/points/history${historyQuery(filter, { csv: true })}`, app.apiKey);
      saveText(text, csvFileName(app.me.handle, new Date()));
    } catch (e) {
      setCsvError(e);
    } finally {
      setCsvBusy(false);
    }
  };

  return (
    <section className="card" aria-label="History">
      <div className="row spread">
        <h2>History</h2>
        <button className="secondary" onClick={() => void download()} disabled={csvBusy}>{csvBusy ? "Preparing…" : "Download CSV"}</button>
      </div>
      <HistoryFilters filter={filter} onApply={apply} />
      {csvError !== undefined && <ErrorBox error={csvError} />}
      <Show state={page} what="your history" empty={(p) => (p.items.length === 0 ? (cursors.length > 1 ? "No more entries." : "Nothing matches: no points have moved yet, or the filter excludes everything.") : undefined)}>
        {(p) => (
          <div className="table-wrap">
            <table data-testid="history">
              <thead><tr><th>When</th><th>Kind</th><th className="wide-only">Model</th><th className="num">Effect</th><th className="num">Amount</th><th className="wide-only">Reference</th></tr></thead>
              <tbody>
                {p.items.map((i) => (
                  <tr key={i.seq} data-kind={i.type}>
                    <td>{when(i.created_at)}</td>
                    <td>{kindLabel(i.type, i.status, i.transfer_kind)}</td>
                    <td className="wide-only">{i.model ?? "—"}</td>
                    <td className={`num ${i.balance_effect.startsWith("-") ? "bad" : i.balance_effect.startsWith("+") ? "ok" : "muted"}`}>{effect(i.balance_effect)}</td>
                    <td className="num">{points(i.amount)}</td>
                    <td className="ref wide-only" title={i.id}>{i.memo ?? i.request_id ?? i.id}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Show>
      <div className="row pager">
        <button className="secondary" disabled={cursors.length === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>← Newer</button>
        <span className="muted" data-testid="history-page">Page {cursors.length}</span>
        <button className="secondary" disabled={!page.data?.next_cursor} onClick={() => page.data?.next_cursor && setCursors((c) => [...c, page.data!.next_cursor!])}>Older →</button>
      </div>
    </section>
  );
}

/** `reservation (posted)`, `reservation (released)`, `grant`. */
function kindLabel(type: string, status: string | null, transfer: string): string {
  const detail = status ?? (transfer === "void" ? "released" : transfer === "expire" ? "expired" : undefined);
  return detail ? `${type.replace("_", " ")} (${detail})` : type.replace("_", " ");
}

/** `+1000` → `+1,000`. */
function effect(text: string): string {
  const sign = text.startsWith("+") || text.startsWith("-") ? text[0] : "";
  return sign + points(sign ? text.slice(1) : text);
}
