// Admin: the ledger audit (`GET /api/admin/ledger/audit`: every transfer
// replayed, every invariant checked) with its result, and who owes arrears.
import { useApp } from "../../app/context";
import { points, when } from "../../lib/format";
import { ErrorBox, Show } from "../common/Status";
import type { Audit } from "../common/types";
import { useAction } from "../common/useAction";
import { useLoad } from "../common/useLoad";
import { useHandles } from "./useHandles";

export function AuditSection() {
  const app = useApp();
  const audit = useAction<Audit & { at: number }>();
  const arrears = useLoad(() => app.api<{ user_id: number; owed: string }[]>("GET", "/api/admin/arrears"), [app.apiKey]);
  const { name } = useHandles();
  const onAudit = () => audit.run(async () => ({ ...(await app.api<Audit>("GET", "/api/admin/ledger/audit")), at: Date.now() }));
  const r = audit.result;

  return (
    <>
      <section className="card" aria-label="Ledger audit">
        <h2>Ledger audit</h2>
        <p className="hint">Replays every transfer from the start and checks every invariant: balances, holds, limits and links. It reads the whole ledger, so it may take a while on a large one.</p>
        <div className="row"><button onClick={() => void onAudit()} disabled={audit.busy}>{audit.busy ? "Auditing…" : "Run the audit"}</button></div>
        {audit.error !== undefined && <ErrorBox error={audit.error} retry={() => void onAudit()} />}
        {r && (
          <div className={r.ok ? "verdict-box ok" : "verdict-box bad"} data-testid="audit-result" role="status">
            <p className="verdict">{r.ok ? "✓ The ledger is consistent" : "✗ The ledger breaks an invariant"}</p>
            <p>{r.accounts} accounts and {r.transfers} transfers replayed, {when(r.at)}.</p>
            {r.violation && <p><strong>Violation:</strong> <code>{r.violation}</code>. Stop changes to the ledger and investigate this account before anything else.</p>}
          </div>
        )}
      </section>
      <section className="card" aria-label="Arrears">
        <h2>Arrears</h2>
        <Show state={arrears} what="arrears" empty={(a) => (a.length === 0 ? "Nobody owes arrears." : undefined)}>
          {(list) => (
            <div className="table-wrap">
              <table data-testid="arrears">
                <thead><tr><th>User</th><th className="num">Owed</th></tr></thead>
                <tbody>{list.map((a) => <tr key={a.user_id}><td>{name(a.user_id)}</td><td className="num bad">{points(a.owed)}</td></tr>)}</tbody>
              </table>
            </div>
          )}
        </Show>
      </section>
    </>
  );
}
