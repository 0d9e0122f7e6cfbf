// Admin: the payments monitor (seed 003 §14): the WebSocket connections of
// the pages and of the chain (`GET /api/v1/stats/websocket`) with status
// lights, and the last N logged messages (`GET
// /api/v1/stats/websocket/messages?limit=N`) of each side apart. Read
// again every 10 s unless switched off, or with Refresh.
import { useEffect, useState } from "react";
import { useApp } from "../../app/context";
import type { MessageLog, SocketStats } from "../../lib/checkout/monitor";
import { ErrorBox, Loading } from "../common/Status";
import { useLoad } from "../common/useLoad";
import { ConnectionCards } from "./payments/ConnectionCards";
import { MessageLogCard } from "./payments/MessageLogCard";

const EVERY_MS = 10_000;

/** The payments monitor section (`#/admin/payments`). */
export function PaymentsMonitorSection() {
  const app = useApp();
  const [limit, setLimit] = useState(100);
  const [auto, setAuto] = useState(true);
  const data = useLoad(async () => {
    const [stats, log] = await Promise.all([
      app.api<SocketStats>("GET", "/api/v1/stats/websocket"),
      app.api<MessageLog>("GET", `/api/v1/stats/websocket/messages?limit=${limit}`),
    ]);
    return { stats, log, at: new Date() };
  }, [app.apiKey, limit]);
  const { reload } = data;
  useEffect(() => {
    if (!auto) return;
    const timer = setInterval(reload, EVERY_MS);
    return () => clearInterval(timer);
  }, [auto, reload]);

  return (
    <>
      <section className="card" aria-label="Payments monitor">
        <div className="row spread">
          <h2>Payments monitor</h2>
          <div className="row">
            <label className="inline">Messages
              <select value={limit} onChange={(e) => setLimit(Number(e.target.value))}>
                <option value={50}>last 50</option><option value={100}>last 100</option><option value={500}>last 500</option>
              </select>
            </label>
            <label className="check"><input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> Refresh every 10 s</label>
            <button className="secondary" onClick={reload} disabled={data.loading}>{data.loading ? "Refreshing…" : "Refresh"}</button>
          </div>
        </div>
        <p className="hint" data-testid="last-updated">
          <span className={`light ${data.error !== undefined ? "red" : data.data ? "green" : "grey"}`} aria-hidden="true" />
          {data.error !== undefined ? "The last refresh failed." : data.data ? `Last updated at ${data.data.at.toLocaleTimeString()}.` : "Not loaded yet."}
          {auto ? " Refreshes every 10 s." : " Automatic refresh is off."}
        </p>
        {data.error !== undefined ? <ErrorBox error={data.error} retry={reload} /> :
          data.data === undefined ? <Loading what="the connection statistics" /> :
          <ConnectionCards frontend={data.data.stats.frontend} blockchain={data.data.stats.blockchain} />}
      </section>
      {data.data && (
        <div className="monitor-logs">
          <MessageLogCard source="frontend" title="Messages with the pages" messages={data.data.log.messages} />
          <MessageLogCard source="blockchain" title="Messages with the chain" messages={data.data.log.messages} />
        </div>
      )}
    </>
  );
}
