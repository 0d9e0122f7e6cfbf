// One key's limits shown and changed (`PUT /api/admin/keys/{id}/limits`,
// all three at once; blank means no limit), with a capped key's spending.
import { useState } from "react";
import { useApp } from "../../app/context";
import { points, when } from "../../lib/format";
import { ErrorBox } from "../common/Status";
import type { KeyView } from "../common/types";
import { useAction } from "../common/useAction";

const blankOr = (text: string) => (text.trim() === "" ? undefined : text.trim());
const digitsOk = (text: string) => text.trim() === "" || /^[1-9]\d*$/.test(text.trim());

export function KeyLimitsForm(props: { view: KeyView & { prefix?: string; created_at?: number }; owner: (id: number) => string }) {
  const app = useApp();
  const save = useAction<KeyView & { prefix?: string; created_at?: number }>();
  const v = save.result ?? props.view;
  const [rpm, setRpm] = useState(v.rpm_limit?.toString() ?? "");
  const [tpm, setTpm] = useState(v.tpm_limit?.toString() ?? "");
  const [cap, setCap] = useState(v.spend_cap ?? "");
  const ok = digitsOk(rpm) && digitsOk(tpm) && (cap.trim() === "" || /^\d+$/.test(cap.trim()));

  const onSave = () => save.run(async () => {
    const body: Record<string, unknown> = {};
    if (blankOr(rpm)) body.rpm_limit = Number(rpm);
    if (blankOr(tpm)) body.tpm_limit = Number(tpm);
    if (blankOr(cap)) body.spend_cap = cap.trim();
    return app.api<KeyView>("PUT", `/api/admin/keys/${v.id}/limits`, body);
  });

  return (
    <div className="key-view" data-testid="key-view">
      <p>Key <strong>#{v.id}</strong> {v.prefix && <code>{v.prefix}…</code>} of {props.owner(v.user_id)}{v.label ? ` (“${v.label}”)` : ""}{v.created_at ? `, made ${when(v.created_at)}` : ""}.</p>
      {v.spend_cap !== null && v.spend_cap !== undefined && (
        <p data-testid="key-spend">Cap {points(v.spend_cap)}: spent {points(v.spent)}, held {points(v.held)}, <strong>{points(v.remaining)} left</strong>.</p>
      )}
      <form className="row" onSubmit={(e) => { e.preventDefault(); void onSave(); }}>
        <label>Requests per minute<input inputMode="numeric" value={rpm} onChange={(e) => setRpm(e.target.value)} placeholder="no limit" /></label>
        <label>Tokens per minute<input inputMode="numeric" value={tpm} onChange={(e) => setTpm(e.target.value)} placeholder="no limit" /></label>
        <label>Spending cap (points)<input inputMode="numeric" value={cap} onChange={(e) => setCap(e.target.value)} placeholder="no cap" /></label>
        <button type="submit" disabled={save.busy || !ok}>{save.busy ? "Saving…" : "Save limits"}</button>
      </form>
      {!ok && <p className="hint bad">Limits are whole numbers above 0 (a cap may be 0); leave a field blank for no limit.</p>}
      {save.error !== undefined && <ErrorBox error={save.error} />}
      {save.result && <p className="ok" role="status">Limits saved.</p>}
    </div>
  );
}
