// Admin: the CKB jobs' task log (`GET /api/admin/ckb/tasks`): each run of
// tracking, auto-settling before expiry and marking expired channels,
// with its result. When the CKB rail is off, says so and how to turn it on.
import { useState } from "react";
import { useApp } from "../../app/context";
import { ApiError } from "../../lib/api";
import { when } from "../../lib/format";
import { ErrorBox, Loading } from "../common/Status";
import type { TaskRun } from "../common/types";
import { useLoad } from "../common/useLoad";

const TASKS: Record<string, string> = {
  ckb_track: "track funding and closes",
  ckb_auto_settle: "settle before expiry",
  ckb_mark_expired: "mark expired offers and channels",
};

export function JobsSection() {
  const app = useApp();
  const [task, setTask] = useState("");
  const runs = useLoad(
    () => app.api<{ runs: TaskRun[] }>("GET", `/api/admin/ckb/tasks?limit=100${task ? `&task=${task}` : ""}`).then((r) => r.runs),
    [app.apiKey, task],
  );
  const off = runs.error instanceof ApiError && runs.error.code === "ckb_disabled";
  const failed = runs.data?.filter((r) => !r.ok).length ?? 0;

  return (
    <section className="card" aria-label="CKB jobs">
      <div className="row spread">
        <h2>CKB jobs</h2>
        <div className="row">
          <label className="inline">Job
            <select value={task} onChange={(e) => setTask(e.target.value)}>
              <option value="">all</option>
              {Object.entries(TASKS).map(([k, v]) => <option key={k} value={k}>{v}</option>)}
            </select>
          </label>
          <button className="secondary" onClick={runs.reload}>Refresh</button>
        </div>
      </div>
      {off ? (
        <p className="empty" data-testid="ckb-off">The CKB rail is off on this server, so no CKB job runs. Set <code>ckb.rpc_url</code> (a CKB node) and <code>ckb.seller_secret</code> to turn it on; <code>make run</code> does it with a local devnet once the node is built.</p>
      ) : runs.error !== undefined ? <ErrorBox error={runs.error} retry={runs.reload} /> :
        runs.data === undefined ? <Loading what="the task log" /> :
        runs.data.length === 0 ? <p className="empty">No run yet: the jobs run every few seconds once the rail is on.</p> : (
          <>
            <p className={failed ? "bad" : "ok"}>{runs.data.length} latest runs, {failed ? `${failed} failed` : "all succeeded"}.</p>
            <div className="table-wrap">
              <table data-testid="tasks">
                <thead><tr><th>Job</th><th>Started</th><th className="num">Took</th><th>Result</th><th>Detail</th></tr></thead>
                <tbody>
                  {runs.data.map((r, i) => (
                    <tr key={`${r.task}-${r.started_at}-${i}`}>
                      <td>{TASKS[r.task] ?? r.task}</td>
                      <td>{when(r.started_at)}</td>
                      <td className="num">{r.finished_at === null ? "running" : `${r.finished_at - r.started_at} ms`}</td>
                      <td className={r.ok ? "ok" : "bad"}>{r.ok ? "ok" : "failed"}</td>
                      <td className="ref">{r.detail ?? "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
    </section>
  );
}
