// The history's filter form: kinds (several), model, a time window; the
// page reads it only when applied, so typing does not fire requests.
import { useState } from "react";
import { HISTORY_KINDS, NO_FILTER, type HistoryFilter } from "../../lib/historyQuery";

export function HistoryFilters(props: { filter: HistoryFilter; onApply: (f: HistoryFilter) => void }) {
  const [draft, setDraft] = useState(props.filter);
  const toggle = (kind: string) =>
    setDraft((d) => ({ ...d, kinds: d.kinds.includes(kind) ? d.kinds.filter((k) => k !== kind) : [...d.kinds, kind] }));
  return (
    <form className="filters" aria-label="Filter the history" onSubmit={(e) => { e.preventDefault(); props.onApply(draft); }}>
      <fieldset>
        <legend>Kinds (none: all)</legend>
        {HISTORY_KINDS.map((k) => (
          <label key={k} className="check"><input type="checkbox" checked={draft.kinds.includes(k)} onChange={() => toggle(k)} />{k.replace("_", " ")}</label>
        ))}
      </fieldset>
      <div className="row">
        <label>Model<input value={draft.model} onChange={(e) => setDraft({ ...draft, model: e.target.value })} placeholder="any" /></label>
        <label>From<input type="datetime-local" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} /></label>
        <label>To<input type="datetime-local" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} /></label>
        <button type="submit">Apply filter</button>
        <button type="button" className="quiet" onClick={() => { setDraft(NO_FILTER); props.onApply(NO_FILTER); }}>Clear</button>
      </div>
    </form>
  );
}
