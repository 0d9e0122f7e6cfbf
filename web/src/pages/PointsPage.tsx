// The points page: the balance (available, arrears), an estimate before a
// call (seed 004's balance protection), the usage history with filters,
// pages and a CSV export, and the recent gateway requests.
import { useApp } from "../app/context";
import { points } from "../lib/format";
import { EstimateCard } from "./points/EstimateCard";
import { HistoryCard } from "./points/HistoryCard";
import { RequestsCard } from "./points/RequestsCard";

export function PointsPage() {
  const app = useApp();
  const b = app.balance;
  const owes = b !== undefined && b.arrears !== "0";
  return (
    <>
      <section className="card" aria-label="Balance">
        <div className="row spread">
          <h2>Points</h2>
          <button className="secondary" onClick={app.refreshBalance}>Refresh</button>
        </div>
        {b === undefined ? <p className="hint" aria-busy="true">Loading your balance…</p> : (
          <dl className="figures">
            <div><dt>Balance</dt><dd data-testid="points-balance">{points(b.balance)}</dd></div>
            <div><dt>Available</dt><dd data-testid="points-available">{points(b.available)}</dd><p className="hint">Balance minus open holds</p></div>
            <div><dt>Arrears</dt><dd data-testid="points-arrears" className={owes ? "bad" : undefined}>{points(b.arrears)}</dd>
              {owes && <p className="hint bad">Owed from a charge the balance could not cover: a top-up repays it first, and no new call can start until it is repaid.</p>}</div>
          </dl>
        )}
      </section>
      <EstimateCard />
      <HistoryCard />
      <RequestsCard />
    </>
  );
}
