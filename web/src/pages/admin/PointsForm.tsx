// Admin: grant points (repaying arrears first) or adjust them up or down,
// with a reason kept in the ledger and an idempotency id (a retry of the
// same change does nothing more).
import { useEffect, useState } from "react";
import { useApp } from "../../app/context";
import { points } from "../../lib/format";
import { ErrorBox } from "../common/Status";
import { changeId, useAction } from "../common/useAction";

interface Changed { balance: string; arrears: string }

export function PointsForm(props: { handles: string[]; picked: string }) {
  const app = useApp();
  const [user, setUser] = useState(props.picked);
  const [kind, setKind] = useState<"grant" | "adjust">("grant");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [id, setId] = useState("");
  const change = useAction<Changed & { user: string }>();
  useEffect(() => { if (props.picked) setUser(props.picked); }, [props.picked]);
  const amountOk = kind === "grant" ? /^[1-9]\d*$/.test(amount) : /^-?[1-9]\d*$/.test(amount);

  const submit = () => change.run(async () => {
    const body = { user: user.trim(), amount, reason: reason.trim(), id: id.trim() || changeId(kind) };
    const answer = await app.api<Changed>("POST", `/api/admin/points/${kind}`, body);
    if (user.trim() === app.me.handle) app.refreshBalance();
    setAmount("");
    setId("");
    return { ...answer, user: body.user };
  });

  return (
    <section className="card" aria-label="Grant or adjust points">
      <h2>Grant or adjust points</h2>
      <form className="row" onSubmit={(e) => { e.preventDefault(); void submit(); }}>
        <label>User
          <input list="user-handles" value={user} onChange={(e) => setUser(e.target.value)} placeholder="handle" autoComplete="off" />
          <datalist id="user-handles">{props.handles.map((h) => <option key={h} value={h} />)}</datalist>
        </label>
        <label>Change
          <select value={kind} onChange={(e) => setKind(e.target.value as "grant" | "adjust")}>
            <option value="grant">grant (adds; repays arrears first)</option>
            <option value="adjust">adjust (+ or −)</option>
          </select>
        </label>
        <label>Points<input inputMode="numeric" value={amount} onChange={(e) => setAmount(e.target.value.trim())} placeholder={kind === "grant" ? "1000" : "-50"} /></label>
        <label>Reason<input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="welcome credit" /></label>
        <label>Id (optional)<input value={id} onChange={(e) => setId(e.target.value)} placeholder="generated" /></label>
        <button type="submit" disabled={change.busy || !user.trim() || !amountOk || !reason.trim()}>{change.busy ? "Saving…" : kind === "grant" ? "Grant" : "Adjust"}</button>
      </form>
      {amount !== "" && !amountOk && <p className="hint bad">{kind === "grant" ? "A grant is a whole number above 0; use adjust to deduct." : "A whole number, not 0; start with - to deduct."}</p>}
      {change.error !== undefined && <ErrorBox error={change.error} />}
      {change.result && (
        <p className="notice" data-testid="points-changed">
          {change.result.user} now has <strong>{points(change.result.balance)}</strong> points
          {change.result.arrears !== "0" && <> and owes <strong className="bad">{points(change.result.arrears)}</strong> in arrears</>}.
        </p>
      )}
    </section>
  );
}
