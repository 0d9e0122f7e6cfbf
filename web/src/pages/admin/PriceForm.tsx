// Admin: a new price for a model (a new version from now), `*` for the
// default rule. Prices are decimal text, sent as typed (never as numbers).
import { useState } from "react";
import { useApp } from "../../app/context";
import { ErrorBox } from "../common/Status";
import type { RuleView } from "../common/types";
import { useAction } from "../common/useAction";

const decimal = (text: string) => /^(0|[1-9]\d*)(\.\d{1,6})?$/.test(text);

export function PriceForm(props: { onSaved: (model: string) => void }) {
  const app = useApp();
  const [model, setModel] = useState("");
  const [input, setInput] = useState("");
  const [output, setOutput] = useState("");
  const [note, setNote] = useState("");
  const save = useAction<RuleView>();
  const ok = model.trim() !== "" && decimal(input) && decimal(output);

  const onSave = () => save.run(async () => {
    const rule = await app.api<RuleView>("PUT", `/api/admin/models/${encodeURIComponent(model.trim())}`, { input_per_1k: input, output_per_1k: output, note: note.trim() });
    props.onSaved(rule.model);
    return rule;
  });

  return (
    <section className="card" aria-label="Set a price">
      <h2>Set a price</h2>
      <form className="row" onSubmit={(e) => { e.preventDefault(); void onSave(); }}>
        <label>Model<input value={model} onChange={(e) => setModel(e.target.value)} placeholder="gpt-4o-mini, or * for the default" autoComplete="off" /></label>
        <label>Input per 1k<input inputMode="decimal" value={input} onChange={(e) => setInput(e.target.value.trim())} placeholder="1000" /></label>
        <label>Output per 1k<input inputMode="decimal" value={output} onChange={(e) => setOutput(e.target.value.trim())} placeholder="2000" /></label>
        <label>Note<input value={note} onChange={(e) => setNote(e.target.value)} placeholder="why" /></label>
        <button type="submit" disabled={save.busy || !ok}>{save.busy ? "Saving…" : "Save new version"}</button>
      </form>
      {((input && !decimal(input)) || (output && !decimal(output))) && <p className="hint bad">Prices are decimals with at most 6 digits after the point, like 1000 or 0.25.</p>}
      {save.error !== undefined && <ErrorBox error={save.error} />}
      {save.result && <p className="ok" role="status" data-testid="price-saved">{save.result.model} is now version {save.result.version}: {save.result.input_per_1k} / {save.result.output_per_1k} points per 1,000 input / output tokens.</p>}
    </section>
  );
}
